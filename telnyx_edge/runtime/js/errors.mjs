// The named errors callers see. `name` is what user code branches on (`err.name`), so
// each class sets it explicitly; Python produces the same names for failures it detects.

function named(name) {
  const cls = class extends Error {
    constructor(message, options) {
      super(message, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, "name", { value: name });
  return cls;
}

export const ActorMethodError = named("ActorMethodError");
export const ActorPrivateMethodError = named("ActorPrivateMethodError");
export const ActorUnknownMethodError = named("ActorUnknownMethodError");
export const ActorMethodTimeoutError = named("ActorMethodTimeoutError");
export const ActorFetchTimeoutError = named("ActorFetchTimeoutError");
export const ActorOutputGateError = named("ActorOutputGateError");
export const ActorReentrancyError = named("ActorReentrancyError");
export const ActorIsolateCrashedError = named("ActorIsolateCrashedError");
export const ActorTypeNotFoundError = named("ActorTypeNotFoundError");
export const BlockConcurrencyTimeoutError = named("BlockConcurrencyTimeoutError");
export const ActorTornDownError = named("ActorTornDownError");
export const CodecError = named("CodecError");
export const ActorStorageError = named("ActorStorageError");
export const SqlError = named("SqlError");
export const SqlAsyncTransactionError = named("SqlAsyncTransactionError");
export const SqlTransactionControlError = named("SqlTransactionControlError");
export const SqlParameterTooLargeError = named("SqlParameterTooLargeError");

export const ERRORS = {
  ActorMethodError, ActorPrivateMethodError, ActorUnknownMethodError, ActorMethodTimeoutError,
  ActorFetchTimeoutError, ActorOutputGateError, ActorReentrancyError, ActorIsolateCrashedError,
  ActorTypeNotFoundError, BlockConcurrencyTimeoutError, ActorTornDownError, CodecError, ActorStorageError,
  SqlError, SqlAsyncTransactionError, SqlTransactionControlError, SqlParameterTooLargeError,
};

/** Every error name the runtime produces, by name: the classes above, and failures only the
 * runtime itself detects (no function serves a host; a revision's code failed or hung while
 * loading). The one list other modules take names from. */
export const NAMES = Object.freeze({
  ...Object.fromEntries(Object.keys(ERRORS).map((name) => [name, name])),
  FunctionNotFound: "FunctionNotFound",
  StartupError: "StartupError",
  StartupTimeout: "StartupTimeout",
});

/** The HTTP status of a failure the function's code could not answer itself (the one mapping;
 * the body names the error). */
export function statusFor(name) {
  if (name === NAMES.ActorMethodTimeoutError || name === NAMES.ActorFetchTimeoutError) return 504;
  if (name === NAMES.FunctionNotFound) return 404;
  return 500;
}

/** Rebuild an error that crossed the wire as [name, message] or [name, message, stack]; the
 * stack (the user's frames where it was thrown, stacks.mjs) becomes its `stack`. */
export function revive(name, message, stack = undefined) {
  const cls = ERRORS[name];
  let err;
  if (cls) err = new cls(message);
  else {
    err = new Error(message);
    err.name = name;
  }
  if (typeof stack === "string") {
    err.stack = stack;
    err.userStack = stack;
  }
  return err;
}
