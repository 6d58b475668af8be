// Types of the `@telnyx/edge-runtime` module: the one place they are declared. This folder
// is the package itself (package.json "types"); `telnyx-edge runtime link` wires a project's
// node_modules to it, so editors and `tsc --noEmit` see these declarations. The module is
// ambient (`declare module`) so a tsconfig `"types": ["@telnyx/edge-runtime"]` also works.

declare module "@telnyx/edge-runtime" {
  /** Bindings declared in telnyx.toml; `telnyx-edge types` augments this interface. */
  export interface Env {}

  export interface AlarmInfo {
    /** 0 on the first delivery, then 1..3 for the redeliveries after a throw. */
    retryCount: number;
    isRetry: boolean;
  }

  export interface ListOptions {
    prefix?: string;
    /** Inclusive lower bound. */
    start?: string;
    /** Exclusive lower bound. */
    startAfter?: string;
    /** Exclusive upper bound. */
    end?: string;
    reverse?: boolean;
    /** Default 128, at most 1000. */
    limit?: number;
  }

  export interface StorageTransaction {
    get<T = unknown>(key: string): Promise<T | undefined>;
    put<T = unknown>(key: string, value: T): Promise<void>;
    delete(key: string): Promise<boolean>;
    list<T = unknown>(options?: ListOptions): Promise<Map<string, T>>;
  }

  export interface ActorStorage extends StorageTransaction {
    deleteAll(): Promise<void>;
    transaction<T>(fn: (txn: StorageTransaction) => Promise<T>): Promise<T>;
    /** Milliseconds since the epoch. */
    setAlarm(when: number): Promise<void>;
    getAlarm(): Promise<number | null>;
    deleteAlarm(): Promise<void>;
  }

  export interface ActorContext {
    /** The name given to idFromName. */
    readonly id: string;
    readonly storage: ActorStorage;
    blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
    setAlarm(when: number): Promise<void>;
  }

  export abstract class StatefulActor<E = Env> {
    constructor(ctx: ActorContext, env: E);
    readonly ctx: ActorContext;
    readonly env: E;
    fetch(req: Request): Promise<Response>;
    alarm(info: AlarmInfo): Promise<void>;
  }

  export type LocationHint = "us-east" | "us-west" | "eu" | "apac" | (string & {});

  export interface IdFromNameOptions {
    locationHint?: LocationHint;
  }

  type NotRpc = "fetch" | "alarm" | "webSocket" | "ctx" | "env" | "constructor";
  type RpcMethods<T> = {
    [K in keyof T as K extends `_${string}` | NotRpc
      ? never
      : T[K] extends (...args: any[]) => any
        ? K
        : never]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
  };

  export type ActorStub<T = unknown> = {
    readonly id: string;
    fetch(req: Request): Promise<Response>;
  } & RpcMethods<T>;

  export interface ActorNamespace<T = unknown> {
    idFromName(name: string, options?: IdFromNameOptions): ActorStub<T>;
    newUniqueId(options?: IdFromNameOptions): ActorStub<T>;
  }

  export const env: Env;

  export class ActorMethodError extends Error {}
  export class ActorPrivateMethodError extends Error {}
  export class ActorUnknownMethodError extends Error {}
  export class ActorMethodTimeoutError extends Error {}
  export class ActorFetchTimeoutError extends Error {}
  export class ActorOutputGateError extends Error {}
  export class ActorReentrancyError extends Error {}
  export class ActorIsolateCrashedError extends Error {}
  export class ActorTypeNotFoundError extends Error {}
  export class BlockConcurrencyTimeoutError extends Error {}
  export class CodecError extends Error {}
}
