// HTTP ingress of the data plane: Node's own server on the socket Python bound and handed over.
//
// A request becomes a `fetch` to a Worker of the function that serves its Host; a failure the
// user's code could not answer itself (its isolate crashed, no function for the host, a timeout)
// becomes a 4xx/5xx whose body names the error, so callers can tell. Streamed response bodies
// are written as the Worker produces them and acknowledged once the connection took them, so a
// slow client slows the producer (streams.mjs).

import http from "node:http";
import { BadHost, requestAuthority, requestUrl } from "./authority.mjs";
import { STREAM_DRAIN_MS } from "./group.mjs";
import { onUpgrade } from "./websockets.mjs";
import { statusFor } from "./errors.mjs";
import { logRequest } from "./requestlog.mjs";

export const MAX_BODY_BYTES = 10 * 1024 * 1024;
const HOP_BY_HOP = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"]);
const TEXT = "text/plain; charset=utf-8";


export class Ingress {
  constructor(router) {
    this.router = router;
    this.server = http.createServer({ requireHostHeader: false, keepAliveTimeout: 30_000, noDelay: true }, (req, res) => this.onRequest(req, res));
    this.server.on("clientError", (err, socket) => {
      if (socket.writable && !socket.headersSent) socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: ${TEXT}\r\nConnection: close\r\n\r\n400 Bad Request: ${err.code ?? "malformed request"}\n`);
      else socket.destroy();
    });
    this.server.on("upgrade", (req, socket, head) => onUpgrade(this, req, socket, head).catch(() => socket.destroy()));
    this.open = 0; // requests without their response finished
    this.streaming = new Set(); // responses whose body is being streamed
    this.closing = false;
    this.idleWaiters = [];
    this.log = router.log ?? null; // the request log (requestlog.mjs)
  }

  listen(fd) {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ fd }, () => { this.server.off("error", reject); resolve(); });
    });
  }

  /** Stop accepting; wait for the requests in flight; streams get STREAM_DRAIN_MS, then are cut. */
  async close() {
    this.closing = true;
    this.server.close();
    this.server.closeIdleConnections();
    const deadline = performance.now() + STREAM_DRAIN_MS;
    while (this.open > this.streaming.size || (this.streaming.size && performance.now() < deadline)) {
      await new Promise((resolve) => { this.idleWaiters.push(resolve); setTimeout(resolve, 20); });
    }
    for (const res of this.streaming) res.destroy();
    this.server.closeAllConnections();
  }

  onRequest(req, res) {
    this.open++;
    res.sendDate = false;
    if (this.closing) res.shouldKeepAlive = false;
    const started = performance.now();
    res.once("close", () => {
      if (this.log !== null) logRequest(this.log, req, res, started);
      this.open--;
      this.streaming.delete(res);
      if (this.idleWaiters.length) for (const wake of this.idleWaiters.splice(0)) wake();
    });
    let authority;
    try {
      authority = requestAuthority(req.rawHeaders, req.httpVersion);
    } catch (err) {
      if (!(err instanceof BadHost)) throw err;
      req.resume();
      return plain(res, 400, `400 Bad Request: ${err.message}\n`);
    }
    if (isWebSocketUpgrade(req.headers)) {
      // Node hands a proper handshake to `upgrade` (websockets.mjs); one here lacks `Connection: Upgrade`.
      req.resume();
      return plain(res, 400, "400 Bad Request: a WebSocket handshake needs the header Connection: Upgrade\n");
    }
    const url = requestUrl(authority, req.url);
    const headers = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.push(raw[i].toLowerCase(), raw[i + 1]);
    if (req.complete || (req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined)) {
      req.resume();
      return this.dispatch(req, res, authority, url, headers, EMPTY);
    }
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        if (!res.headersSent) {
          res.shouldKeepAlive = false;
          plain(res, 413, "request body exceeds 10 MB\n");
        }
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (size <= MAX_BODY_BYTES) this.dispatch(req, res, authority, url, headers, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
  }

  async dispatch(req, res, authority, url, headers, body) {
    try {
      const fn = this.router.functionForHost(authority.name);
      if (fn === null) throw this.router.noFunction(authority.name);
      res.edgeFunction = fn;
      const group = this.router.groupNow(fn) ?? await this.router.groupOf(fn);
      const q = req.url.indexOf("?");
      const route = q < 0 ? req.url : req.url.slice(0, q);
      const slot = group.fetchSlot(route);
      if (!slot.live) await this.router.slotUp(slot);
      const sink = responseSink(this, res);
      sink.route = route;
      slot.request("fetch", sink, req.method, url, headers, body);
    } catch (err) {
      failResponse(res, err.errorName ?? err.name ?? "Error", err.message);
    }
  }
}

const EMPTY = Buffer.alloc(0);

function isWebSocketUpgrade(headers) {
  const upgrade = headers.upgrade;
  return typeof upgrade === "string" && upgrade.toLowerCase().split(",").some((p) => p.trim() === "websocket");
}

function responseSink(ingress, res) {
  let ctl = null;
  let ended = false;
  return {
    done(status, headers, body) {
      try {
        res.writeHead(status, outHeaders(headers, body.length));
        res.end(body);
      } catch (err) {
        failResponse(res, err.name ?? "Error", err.message);
      }
    },
    head(status, headers, control) {
      ctl = control;
      try {
        res.writeHead(status, outHeaders(headers, null));
      } catch (err) {
        ctl.cancel();
        return failResponse(res, err.name ?? "Error", err.message);
      }
      ingress.streaming.add(res);
      res.once("close", () => { if (!ended) ctl.cancel(); });
    },
    chunk(data) {
      if (!res.destroyed) res.write(data, () => ctl.ack(data.length));
    },
    end(error) {
      // An error mid-body (the body threw, or a reload or stop cut the stream) cannot change the
      // status line that has gone: abort the connection, so the client sees a truncated body
      // rather than a complete-looking one.
      ended = true;
      if (error) res.destroy();
      else res.end();
    },
    fail(name, message) {
      ended = true;
      failResponse(res, name, message);
    },
  };
}

function outHeaders(flat, length) {
  const out = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i].toLowerCase();
    if (!HOP_BY_HOP.has(name)) out.push(name, flat[i + 1]);
  }
  if (length !== null) out.push("content-length", String(length));
  return out;
}

function failResponse(res, name, message) {
  if (res.headersSent) return res.end();
  plain(res, statusFor(name), `${name}: ${message}\n`);
}

function plain(res, status, text) {
  const body = Buffer.from(text);
  res.writeHead(status, ["content-type", TEXT, "content-length", String(body.length)]);
  res.end(body);
}
