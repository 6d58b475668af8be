// A stand-in for `@telnyx/edge-runtime` used only by the ship-time load check: the same
// export names as the real module (spec 3.1), with just enough behaviour to import a bundle.
export class StatefulActor {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}

export const env = {};

export class ActorMethodError extends Error {}
export class ActorPrivateMethodError extends Error {}
export class ActorUnknownMethodError extends Error {}
export class ActorMethodTimeoutError extends Error {}
export class ActorFetchTimeoutError extends Error {}
export class ActorOutputGateError extends Error {}
export class ActorReentrancyError extends Error {}
export class ActorIsolateCrashedError extends Error {}
export class BlockConcurrencyTimeoutError extends Error {}
export class CodecError extends Error {}
export class SqlTransactionControlError extends Error {}
export class SqlAsyncTransactionError extends Error {}
export class SqlParameterTooLargeError extends Error {}
