// env.NAME of a [storage.cloudstorage.NAME] block: a CloudStorageBucket (`get/put/head/delete/
// list`) on a local folder, $TELNYX_EDGE_HOME/storage/buckets/<bucket_name>/. An object with key
// "a/b.txt" is the file a/b.txt there; its metadata (size, etag, upload time, content type,
// custom metadata) is .telnyx-meta/a/b.txt.json beside the objects. Keys are checked before any
// path is built, so no key reaches outside the folder: 1-1024 bytes, "/"-separated segments
// that are not empty, "." or "..", no backslash or NUL, and not under the reserved .telnyx-*
// folders. Writes go to a temporary file renamed into place, so a reader never sees half an object.

import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { bindingError } from "./errors.mjs";
import { decodeCursor, encodeCursor } from "./sqlite.mjs";

const META = ".telnyx-meta";
const TMP = ".telnyx-tmp";
// Each name between "/" becomes a file name (255 bytes on Linux), plus ".json" for its metadata.
const MAX_SEGMENT_BYTES = 250;
const MAX_KEY_BYTES = 1024;
const MAX_LIST = 1000;

export class CloudStorageBucket {
  #binding;
  #root;
  #bucket;

  constructor(binding, { path: root, bucket }) {
    this.#binding = binding;
    this.#root = root;
    this.#bucket = bucket;
  }

  #check(key, method) {
    const where = `env.${this.#binding}.${method}(${typeof key === "string" ? JSON.stringify(key.slice(0, 100)) : typeof key})`;
    if (typeof key !== "string") throw new TypeError(`${where}: key must be a string`);
    const segments = key.split("/");
    const bad =
      key.length === 0 || Buffer.byteLength(key) > MAX_KEY_BYTES || /[\\\0]/.test(key) ||
      segments.some((s) => s === "" || s === "." || s === ".." || Buffer.byteLength(s) > MAX_SEGMENT_BYTES) ||
      segments[0].startsWith(".telnyx-");
    if (bad) {
      throw bindingError("CloudStorageInvalidKeyError",
        `${where}: invalid object key (400): 1-${MAX_KEY_BYTES} bytes of "/"-separated names, none empty, "." or ".." or over ${MAX_SEGMENT_BYTES} bytes (a local file name; its metadata adds ".json"), without "\\" or NUL, not starting with .telnyx-`);
    }
    const file = path.join(this.#root, ...segments);
    // Belt and braces: the checks above already keep every key inside the folder.
    if (!file.startsWith(this.#root + path.sep)) throw bindingError("CloudStorageInvalidKeyError", `${where}: invalid object key (400)`);
    return { file, meta: path.join(this.#root, META, ...segments) + ".json" };
  }

  async put(key, value, options = {}) {
    const { file, meta } = this.#check(key, "put");
    const bytes = await toBytes(value, `env.${this.#binding}.put()`);
    const info = {
      key,
      size: bytes.length,
      etag: createHash("md5").update(bytes).digest("hex"),
      uploaded: new Date().toISOString(),
      httpMetadata: { ...(options?.httpMetadata ?? {}), ...(options?.contentType ? { contentType: String(options.contentType) } : {}) },
      customMetadata: { ...(options?.customMetadata ?? {}) },
    };
    const tmpDir = path.join(this.#root, TMP);
    await fs.mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, randomUUID());
    try {
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.mkdir(path.dirname(meta), { recursive: true });
      await fs.writeFile(tmp, bytes);
      await fs.rename(tmp, file);
      await fs.writeFile(tmp, JSON.stringify(info));
      await fs.rename(tmp, meta);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      if (err.code === "ENOTDIR" || err.code === "EEXIST" || err.code === "EISDIR") {
        throw bindingError("CloudStorageError",
          `env.${this.#binding}.put(${JSON.stringify(key)}): the key clashes with another object's key as a folder path (locally, "a" and "a/b" cannot both exist)`);
      }
      throw err;
    }
    return objectInfo(info);
  }

  async head(key) {
    const { file, meta } = this.#check(key, "head");
    return readInfo(file, meta, key);
  }

  async get(key) {
    const { file, meta } = this.#check(key, "get");
    const info = await readInfo(file, meta, key);
    if (!info) return null;
    let bytes;
    try {
      bytes = await fs.readFile(file);
    } catch (err) {
      if (err.code === "ENOENT" || err.code === "EISDIR") return null;
      throw err;
    }
    return new CloudStorageObjectBody(info, bytes);
  }

  /** Deleting an object that is not there is not an error; `keys` may be one key or an array. */
  async delete(keys) {
    for (const key of Array.isArray(keys) ? keys : [keys]) {
      const { file, meta } = this.#check(key, "delete");
      await fs.rm(file, { force: true }).catch((err) => { if (err.code !== "EISDIR") throw err; });
      await fs.rm(meta, { force: true }).catch((err) => { if (err.code !== "EISDIR") throw err; });
    }
  }

  async list(options = {}) {
    const prefix = options?.prefix ?? "";
    if (typeof prefix !== "string") throw new TypeError(`env.${this.#binding}.list(): prefix must be a string`);
    const limit = options?.limit ?? MAX_LIST;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST) throw new TypeError(`env.${this.#binding}.list(): limit must be a whole number from 1 to ${MAX_LIST}`);
    const after = options?.cursor ? decodeCursor(options.cursor, `env.${this.#binding}.list()`) : "";
    const metaRoot = path.join(this.#root, META);
    const keys = (await walk(metaRoot, "")).filter((k) => k.startsWith(prefix) && k > after).sort();
    const page = keys.slice(0, limit);
    const infos = [];
    for (const key of page) {
      const info = await readInfo(path.join(this.#root, ...key.split("/")), path.join(metaRoot, ...key.split("/")) + ".json", key);
      if (info) infos.push(info);
    }
    const truncated = keys.length > limit;
    const cursor = truncated ? encodeCursor(page[page.length - 1]) : undefined;
    // Telnyx's examples read two shapes; both are given: keys/list_complete and objects/truncated.
    return {
      keys: infos.map((o) => ({ name: o.key, size: o.size, lastModified: o.uploaded.toISOString() })),
      list_complete: !truncated,
      objects: infos,
      truncated,
      cursor,
    };
  }

  toJSON() { return { bucket: this.#bucket }; }
}

class CloudStorageObjectBody {
  #bytes;

  constructor(info, bytes) {
    Object.assign(this, info);
    this.#bytes = bytes;
  }

  get body() {
    const bytes = this.#bytes;
    return new ReadableStream({ start(c) { c.enqueue(new Uint8Array(bytes)); c.close(); } });
  }

  async text() { return this.#bytes.toString("utf8"); }
  async json() { return JSON.parse(this.#bytes.toString("utf8")); }
  async arrayBuffer() { return this.#bytes.buffer.slice(this.#bytes.byteOffset, this.#bytes.byteOffset + this.#bytes.length); }
  async bytes() { return new Uint8Array(this.#bytes); }
}

function objectInfo(info) {
  return { ...info, uploaded: new Date(info.uploaded) };
}

async function readInfo(file, meta, key) {
  try {
    const info = JSON.parse(await fs.readFile(meta, "utf8"));
    await fs.access(file);
    return objectInfo({ ...info, key });
  } catch (err) {
    if (err.code === "ENOENT" || err.code === "ENOTDIR" || err.code === "EISDIR") return null;
    throw err;
  }
}

async function walk(dir, prefix) {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (err.code === "ENOENT") return [];
    throw err;
  }
  const out = [];
  for (const entry of entries) {
    const key = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...await walk(path.join(dir, entry.name), key));
    else if (entry.name.endsWith(".json")) out.push(key.slice(0, -".json".length));
  }
  return out;
}

async function toBytes(value, where) {
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (value === null || value === undefined) return Buffer.alloc(0);
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof Blob) return Buffer.from(await value.arrayBuffer());
  if (value instanceof ReadableStream) return Buffer.from(await new Response(value).arrayBuffer());
  throw new TypeError(`${where}: value must be a string, ArrayBuffer, typed array, Blob or ReadableStream`);
}
