// Errors the bindings throw. `name` is what user code branches on (`err.name`); messages name
// the binding, the key or the handle at fault and the fix, never a secret's value.

export function bindingError(name, message, options) {
  const err = new Error(message, options);
  err.name = name;
  return err;
}
