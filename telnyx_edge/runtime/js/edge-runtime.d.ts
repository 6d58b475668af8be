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

  /** A value SQL stores and returns: INTEGER/REAL -> number, TEXT -> string, BLOB -> ArrayBuffer. */
  export type SqlValue = null | number | string | ArrayBuffer;

  /** Single-pass: after a full iteration toArray() is []; after a partial one, the rest. */
  export interface SqlCursor<T = Record<string, SqlValue>> extends Iterable<T> {
    next(): IteratorResult<T>;
    toArray(): T[];
    one(): T;
    raw(): SqlValue[][];
    readonly columnNames: string[];
    readonly rowsRead: number;
    readonly rowsWritten: number;
  }

  /** The actor's own SQLite database, synchronous; writes commit with the turn. */
  export interface SqlStorage {
    exec<T = Record<string, SqlValue>>(query: string, ...bindings: (SqlValue | ArrayBufferView)[]): SqlCursor<T>;
    readonly databaseSize: number;
  }

  export interface ActorStorage extends StorageTransaction {
    /** Clears every key and the user's SQL tables atomically; the alarm stays. */
    deleteAll(): Promise<void>;
    transaction<T>(fn: (txn: StorageTransaction) => Promise<T>): Promise<T>;
    readonly sql: SqlStorage;
    /** Atomic group of SQL statements and storage writes; a throw undoes only its own work. */
    transactionSync<T>(fn: () => T): T;
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
    /** Open WebSockets on this activation. */
    count(): number;
    /** Send one frame to every open WebSocket of this activation, now (not held until the turn
     * commits); a string is a text frame. Returns how many sockets it went to. */
    broadcast(data: string | ArrayBuffer | ArrayBufferView): number;
  }

  /** The socket an actor's `webSocket(ws, req)` owns: the surface of the `ws` package's
   * WebSocket. Each event is a turn of the actor (one at a time with its calls and alarms,
   * under the method budget); a listener that throws closes the socket with 1011. */
  export interface ActorWebSocket {
    readonly readyState: 0 | 1 | 2 | 3;
    readonly url: string;
    /** The subprotocol chosen (the client's first), or "". */
    readonly protocol: string;
    readonly bufferedAmount: number;
    /** A string is a text frame; bytes are a binary one (`options.binary` overrides). */
    send(data: string | ArrayBuffer | ArrayBufferView, options?: { binary?: boolean } | ((err?: Error) => void), cb?: (err?: Error) => void): void;
    /** `code`: 1000 (default), 1001-1003, 1007-1014, or 3000-4999; `reason` at most 123 bytes. */
    close(code?: number, reason?: string): void;
    /** Drop the connection without a close handshake (both ends see 1006). */
    terminate(): void;
    on(event: "message", listener: (data: Buffer, isBinary: boolean) => void | Promise<void>): this;
    on(event: "close", listener: (code: number, reason: Buffer) => void | Promise<void>): this;
    on(event: "error", listener: (err: Error) => void | Promise<void>): this;
    once(event: "message", listener: (data: Buffer, isBinary: boolean) => void | Promise<void>): this;
    once(event: "close", listener: (code: number, reason: Buffer) => void | Promise<void>): this;
    once(event: "error", listener: (err: Error) => void | Promise<void>): this;
    off(event: "message" | "close" | "error", listener: (...args: any[]) => unknown): this;
  }

  export abstract class StatefulActor<E = Env> {
    constructor(ctx: ActorContext, env: E);
    readonly ctx: ActorContext;
    readonly env: E;
    fetch(req: Request): Promise<Response>;
    alarm(info: AlarmInfo): Promise<void>;
    /** Optional: owns a WebSocket the function forwarded with `stub.fetch(req)`; `req` has the
     * handshake headers (Upgrade, Connection, Sec-WebSocket-*) removed. Without it, an upgrade
     * is closed with 1011. Frames that arrive before it returns are delivered after it, in order. */
    webSocket?(ws: ActorWebSocket, req: Request): Promise<void>;
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
    fetch(input: Request | URL | string, init?: RequestInit): Promise<Response>;
  } & RpcMethods<T>;

  export interface ActorNamespace<T = unknown> {
    idFromName(name: string, options?: IdFromNameOptions): ActorStub<T>;
    newUniqueId(options?: IdFromNameOptions): ActorStub<T>;
  }

  export const env: Env;

  // ---- Agent SDK (docs/agents.md) -------------------------------------------------------
  // One contiguous block: the Agent base class and its types, as `@telnyx/edge-runtime` exports them.

  export type AgentRole = "system" | "user" | "assistant" | "tool";

  export interface ToolCall {
    id: string;
    name: string;
    args: unknown;
  }

  export interface AgentMessage {
    role: AgentRole;
    content: string;
    /** The tool name on role "tool", a speaker label otherwise. */
    name?: string;
    /** On assistant turns that request tools. */
    toolCalls?: ToolCall[];
    /** On role "tool": the ToolCall.id this result answers. */
    toolCallId?: string;
  }

  /** A message as read back: `seq` (1, 2, 3, ...) orders the log; `at` is informational. */
  export type StoredMessage = AgentMessage & { seq: number; at: Date };

  export interface OpenAIChatMessage {
    role: AgentRole;
    content: string;
    name?: string;
    tool_calls?: Array<{ id: string; type: "function"; function: { name: string; arguments: string } }>;
    tool_call_id?: string;
  }

  export type AnthropicContentBlock =
    | { type: "text"; text: string }
    | { type: "tool_use"; id: string; name: string; input: unknown }
    | { type: "tool_result"; tool_use_id: string; content: string };

  export interface AnthropicMessage {
    role: "user" | "assistant";
    content: string | AnthropicContentBlock[];
  }

  /** `this.messages`: the append-only conversation log of one agent instance. */
  export interface MessageLog {
    /** Shorthand for append({ role, content }); resolves to the new seq. */
    add(role: AgentRole, content: string): Promise<number>;
    append(msg: AgentMessage): Promise<number>;
    /** All or nothing; resolves to the last seq (the current count for an empty batch). */
    appendMany(msgs: AgentMessage[]): Promise<number>;
    /** The whole log, oldest first. */
    all(): Promise<StoredMessage[]>;
    last(): Promise<StoredMessage | undefined>;
    /** The newest n, oldest first. */
    last(n: number): Promise<StoredMessage[]>;
    count(): Promise<number>;
    toOpenAI(): Promise<OpenAIChatMessage[]>;
    /** Without system messages: pass the system prompt as the request's `system`. */
    toAnthropic(): Promise<AnthropicMessage[]>;
    /** Plain { role, content } objects; tool-call details are dropped. */
    toLangChain(): Promise<Array<{ role: AgentRole; content: string }>>;
  }

  export interface ScheduleOptions {
    /** A stable id makes scheduling an upsert of the pending task with that id. */
    id?: string;
    /** Retries after the first delivery (default 5, i.e. 6 runs), then the task is dropped. */
    maxRetries?: number;
  }

  export interface TaskRecord {
    id: string;
    /** The method to call, or what onTask receives. */
    name: string;
    payload?: unknown;
    /** Milliseconds since the epoch. */
    due: number;
    /** Set for every() tasks. */
    everyMs?: number;
    /** Consecutive failed deliveries so far. */
    attempts: number;
    maxRetries: number;
    createdAt: Date;
  }

  export interface TaskContext {
    /** Consecutive failed deliveries so far (0 on the first). */
    attempt: number;
  }

  type MergePatchLeaf = readonly unknown[] | Date | RegExp | Map<unknown, unknown> | Set<unknown> | ArrayBuffer | ArrayBufferView;
  type MergePatchValue<V> = V extends MergePatchLeaf ? V : V extends object ? MergePatch<V> : V;
  /** RFC 7396: objects merge recursively, null deletes a key, anything else replaces. */
  export type MergePatch<T> = { [K in keyof T]?: MergePatchValue<T[K]> | null };

  /**
   * A Stateful Actor with durable state, a message log and durable tasks. Every member it
   * adds is protected: none is callable through a stub. Do not override `alarm()`: the SDK
   * owns the alarm slot and runs tasks from it.
   */
  export abstract class Agent<E = Env, State extends Record<string, unknown> = Record<string, unknown>> extends StatefulActor<E> {
    constructor(ctx: ActorContext, env: E);
    protected readonly messages: MessageLog;
    /** The state before anything was stored (default `{}`). */
    protected initialState(): State;
    /** Runs after each setState() and replaceState(). */
    protected onStateChanged(next: State, prev: State): Promise<void>;
    /** A due task whose name is no method of the class (default: dropped as delivered). */
    protected onTask(name: string, payload: unknown, ctx: TaskContext): Promise<void>;
    protected getState(): Promise<State>;
    /** Merge-patch the state; resolves to the whole new state. */
    protected setState(patch: MergePatch<State>): Promise<State>;
    protected replaceState(next: State): Promise<State>;
    /** Resolves to the task id. */
    protected queue(method: string, payload?: unknown, opts?: ScheduleOptions): Promise<string>;
    protected schedule(delaySeconds: number, method: string, payload?: unknown, opts?: ScheduleOptions): Promise<string>;
    protected every(intervalSeconds: number, method: string, payload?: unknown, opts?: ScheduleOptions): Promise<string>;
    protected cancelSchedule(id: string): Promise<boolean>;
    protected listSchedules(): Promise<TaskRecord[]>;
  }
  // ---- end of Agent SDK -----------------------------------------------------------------

  // -- Platform bindings (telnyx.toml); `telnyx-edge types` types env.NAME with these. --------

  /** env.SECRETS of `[[secrets]]` blocks: `get(handle)` -> the stored secret; rejects for an unknown handle or unset secret. */
  export interface SecretsBinding<Handle extends string = string> {
    get(handle: Handle): Promise<string>;
  }

  export interface KvPutOptions {
    /** Seconds from now until the key expires. */
    expirationTtl?: number;
    /** Seconds since the epoch at which the key expires. */
    expiration?: number;
  }

  export interface KvListOptions {
    prefix?: string;
    /** The `cursor` of the previous page. */
    cursor?: string;
    /** 1..1000, default 1000. */
    limit?: number;
  }

  export interface KvListKey {
    name: string;
    sizeBytes: number;
    /** ISO 8601. */
    updatedAt: string;
    /** Seconds since the epoch, when the key expires. */
    expiration?: number;
  }

  export interface KvListResult {
    keys: KvListKey[];
    list_complete: boolean;
    /** Set when list_complete is false. */
    cursor?: string;
  }

  /** `[storage.kv.NAME]`: keys are 1-256 characters of a-z A-Z 0-9 - _ / = . ; values at most 1 MiB; last write wins. */
  export interface KvNamespace {
    get(key: string, options?: { type?: "text" } | "text"): Promise<string | null>;
    get<T = unknown>(key: string, options: { type: "json" } | "json"): Promise<T | null>;
    put(key: string, value: string, options?: KvPutOptions): Promise<void>;
    /** Deleting a missing key is not an error. */
    delete(key: string): Promise<void>;
    list(options?: KvListOptions): Promise<KvListResult>;
  }

  export type SqlBindValue = null | number | bigint | string | boolean | ArrayBuffer | ArrayBufferView;

  export interface SqlMeta {
    changes: number;
    last_row_id: number;
    /** Milliseconds. */
    duration: number;
    rows_read?: number;
  }

  export interface SqlResult<T = Record<string, unknown>> {
    results: T[];
    success: boolean;
    meta: SqlMeta;
  }

  export interface SqlPreparedStatement {
    /** A copy of the statement with these values for its `?` parameters. */
    bind(...values: SqlBindValue[]): SqlPreparedStatement;
    first<T = Record<string, unknown>>(): Promise<T | null>;
    first<T = unknown>(column: string): Promise<T | null>;
    all<T = Record<string, unknown>>(): Promise<SqlResult<T>>;
    run<T = Record<string, unknown>>(): Promise<SqlResult<T>>;
    raw<T = unknown[]>(options?: { columnNames?: boolean }): Promise<T[]>;
  }

  /** `[storage.sqldb.NAME]`: a SQL database. */
  export interface SqlDatabase {
    prepare(query: string): SqlPreparedStatement;
    /** Every statement in one transaction: all of them apply, or none. */
    batch<T = Record<string, unknown>>(statements: SqlPreparedStatement[]): Promise<SqlResult<T>[]>;
    /** A script of statements without parameters. */
    exec(query: string): Promise<{ count: number; duration: number }>;
  }

  export interface CloudStorageHttpMetadata {
    contentType?: string;
    contentLanguage?: string;
    contentDisposition?: string;
    contentEncoding?: string;
    cacheControl?: string;
  }

  export interface CloudStorageObject {
    key: string;
    size: number;
    /** MD5 of the content, hex. */
    etag: string;
    uploaded: Date;
    httpMetadata: CloudStorageHttpMetadata;
    customMetadata: Record<string, string>;
  }

  export interface CloudStorageObjectBody extends CloudStorageObject {
    readonly body: ReadableStream<Uint8Array>;
    text(): Promise<string>;
    json<T = unknown>(): Promise<T>;
    arrayBuffer(): Promise<ArrayBuffer>;
    bytes(): Promise<Uint8Array>;
  }

  export interface CloudStoragePutOptions {
    httpMetadata?: CloudStorageHttpMetadata;
    customMetadata?: Record<string, string>;
    /** Shorthand for httpMetadata.contentType. */
    contentType?: string;
  }

  export interface CloudStorageListResult {
    keys: { name: string; size: number; lastModified: string }[];
    list_complete: boolean;
    /** The same page as `keys`, with every object's metadata. */
    objects: CloudStorageObject[];
    truncated: boolean;
    cursor?: string;
  }

  /** `[storage.cloudstorage.NAME]`: objects by key ("/"-separated names; no "." or ".." segments). */
  export interface CloudStorageBucket {
    get(key: string): Promise<CloudStorageObjectBody | null>;
    put(
      key: string,
      value: string | ArrayBuffer | ArrayBufferView | Blob | ReadableStream | null,
      options?: CloudStoragePutOptions,
    ): Promise<CloudStorageObject>;
    head(key: string): Promise<CloudStorageObject | null>;
    /** Deleting a missing object is not an error. */
    delete(keys: string | string[]): Promise<void>;
    list(options?: { prefix?: string; cursor?: string; limit?: number }): Promise<CloudStorageListResult>;
  }

  /** `[[ratelimits]]`: at most `limit` calls per key in each `period` seconds. */
  export interface RateLimiter {
    limit(options: { key: string }): Promise<{ success: boolean }>;
  }

  export class ActorMethodError extends Error {}
  export class ActorPrivateMethodError extends Error {}
  export class ActorUnknownMethodError extends Error {}
  export class ActorMethodTimeoutError extends Error {}
  export class ActorFetchTimeoutError extends Error {}
  export class ActorOutputGateError extends Error {}
  export class ActorReentrancyError extends Error {}
  export class ActorIsolateCrashedError extends Error {}
  export class ActorTypeNotFoundError extends Error {}
  export class ActorTornDownError extends Error {}
  export class BlockConcurrencyTimeoutError extends Error {}
  export class CodecError extends Error {}
  export class ActorStorageError extends Error {}
  export class SqlError extends Error {}
  export class SqlAsyncTransactionError extends Error {}
  export class SqlTransactionControlError extends Error {}
  export class SqlParameterTooLargeError extends Error {}
}
