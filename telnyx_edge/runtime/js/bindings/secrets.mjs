// env.SECRETS: `get(handle)` resolves a [[secrets]] binding (handle -> stored secret name) to the
// secret's value on the account (spec 2.1, 3.10). Values arrive in the isolate config; errors
// name the handle and the secret, never a value.

import { bindingError } from "./errors.mjs";

export class SecretsBinding {
  #handles;
  #values;

  constructor(handles, values) {
    this.#handles = new Map(Object.entries(handles));
    this.#values = new Map(Object.entries(values ?? {}));
  }

  async get(handle) {
    if (typeof handle !== "string") throw new TypeError("env.SECRETS.get(handle) takes the binding string of a [[secrets]] block");
    const name = this.#handles.get(handle);
    if (name === undefined) {
      const declared = [...this.#handles.keys()].join(", ") || "none";
      throw bindingError("SecretNotFoundError",
        `env.SECRETS.get(${JSON.stringify(handle)}): no [[secrets]] block has binding = ${JSON.stringify(handle)} (declared: ${declared}); add one to telnyx.toml`);
    }
    const value = this.#values.get(name);
    if (value === undefined) {
      throw bindingError("SecretNotFoundError",
        `env.SECRETS.get(${JSON.stringify(handle)}): secret ${name} is not set on the account; run: telnyx-edge secrets add ${name} VALUE`);
    }
    return value;
  }

  toJSON() { return { handles: [...this.#handles.keys()] }; }
}
