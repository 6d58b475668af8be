// The `Host` header of an incoming request, validated (RFC 9110 7.2, RFC 3986 3.2.2).
//
// A request's URL is built from two parts that must not mix: the authority, from `Host`, and the
// path and query, from the request line. A `Host` value that is not exactly `host[:port]` is
// refused with a 400 before any user code runs, so no header can change the path a handler sees
// or the function `serve` routes to.

import { isIPv6 } from "node:net";

// reg-name: unreserved characters and sub-delims, without the ones that make trouble in a URL
// or a route (no "%", "@", "/", "?", "#", "\\", spaces or controls).
const REG_NAME = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,252}$/;
const PORT = /^[0-9]{1,5}$/;

export class BadHost extends Error {}

/** `host[:port]` -> {name, port}: name lower-case (an IPv6 address keeps its brackets), port a
 * number or null. Throws BadHost, with a one-line message, for anything else. */
export function parseHost(raw) {
  if (raw === "") throw new BadHost("the Host header is empty");
  let name;
  let rest;
  if (raw.startsWith("[")) {
    const end = raw.indexOf("]");
    if (end < 0) throw new BadHost("the Host header has an IPv6 address without its closing ']'");
    const literal = raw.slice(1, end);
    if (literal.includes("%") || !isIPv6(literal)) throw new BadHost("the Host header's [...] is not an IPv6 address");
    name = `[${literal.toLowerCase()}]`;
    rest = raw.slice(end + 1);
  } else {
    const colon = raw.indexOf(":");
    name = colon < 0 ? raw : raw.slice(0, colon);
    rest = colon < 0 ? "" : raw.slice(colon);
    if (!REG_NAME.test(name)) throw new BadHost("the Host header must be host[:port] (letters, digits, '.', '-', '_', '~' in the name)");
    name = name.toLowerCase();
    // A name whose last label is a number is an IPv4 address to URL parsers (WHATWG URL: 0x7f.1
    // would become 127.0.0.1, 999.1.1.1 would not parse at all): only a plain dotted quad is one.
    const labels = (name.endsWith(".") ? name.slice(0, -1) : name).split(".");
    if (/^(0x[0-9a-f]*|[0-9]+)$/.test(labels.at(-1)) && !isDottedQuad(labels)) {
      throw new BadHost("the Host header's IPv4 address must be four numbers from 0 to 255 (a.b.c.d)");
    }
  }
  if (!rest) return { name, port: null };
  const digits = rest.slice(1);
  if (!rest.startsWith(":") || !PORT.test(digits) || !(Number(digits) > 0 && Number(digits) < 65536)) {
    throw new BadHost("the Host header's port must be a number from 1 to 65535");
  }
  return { name, port: Number(digits) };
}

function isDottedQuad(labels) {
  return labels.length === 4 && labels.every((l) => /^(0|[1-9][0-9]{0,2})$/.test(l) && Number(l) <= 255);
}

/** The one valid authority of a request from its raw header list; HTTP/1.0 may omit Host (then localhost). */
export function requestAuthority(rawHeaders, httpVersion) {
  let host = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].length === 4 && rawHeaders[i].toLowerCase() === "host") {
      if (host !== null) throw new BadHost("the request has more than one Host header");
      host = rawHeaders[i + 1];
    }
  }
  if (host === null) {
    if (httpVersion === "1.0") return { name: "localhost", port: null };
    throw new BadHost("the request has no Host header");
  }
  return parseHost(host);
}

/** The URL user code sees: scheme and authority from Host, path and query from the request line
 * (of an absolute-form target, `GET http://x/p?q`, its path and query: RFC 9112 3.2.2). */
export function requestUrl(authority, target) {
  const shown = authority.port === null ? authority.name : `${authority.name}:${authority.port}`;
  if (!target.startsWith("/") && /^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    const q = target.indexOf("?", target.indexOf("//") + 2);
    const slash = target.indexOf("/", target.indexOf("//") + 2);
    const end = q < 0 ? target.length : q;
    target = (slash < 0 || slash > end ? "/" : target.slice(slash, end)) + (q < 0 ? "" : target.slice(q));
  }
  return `http://${shown}${target.startsWith("/") ? target : "/" + target}`;
}
