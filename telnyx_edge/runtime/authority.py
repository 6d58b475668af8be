"""The `Host` header of an incoming request, validated (RFC 9110 7.2, RFC 3986 3.2.2).

A request's URL is built from two parts that must not mix: the authority, from `Host`, and the
path and query, from the request line. A `Host` value that is not exactly `host[:port]` is
refused with a 400 before any user code runs, so no header can change the path a handler sees
or the function `serve` routes to.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# reg-name: unreserved characters and sub-delims, without the ones that make trouble in a URL
# or a route (no "%", "@", "/", "?", "#", "\\", spaces or controls).
_REG_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._~-]{0,252})")
_PORT = re.compile(r"[0-9]{1,5}")


class BadHost(ValueError):
    """The `Host` header is not a valid host[:port]; the message says why in one line."""


@dataclass(frozen=True)
class Authority:
    """A validated `Host`: `name` is lower-case (an IPv6 address keeps its brackets)."""

    name: str
    port: int | None

    def __str__(self) -> str:
        return self.name if self.port is None else f"{self.name}:{self.port}"


def parse_host(raw: str) -> Authority:
    """`host[:port]` -> Authority. Raises BadHost for anything else: empty, userinfo, a path,
    query or fragment, spaces, a port that is not 1-65535, an IPv6 address without brackets."""
    if raw == "":
        raise BadHost("the Host header is empty")
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise BadHost("the Host header has an IPv6 address without its closing ']'")
        literal, rest = raw[1:end], raw[end + 1:]
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise BadHost("the Host header's [...] is not an IPv6 address") from None
        name = f"[{literal.lower()}]"
    else:
        name, sep, port_text = raw.partition(":")
        rest = sep + port_text
        if not _REG_NAME.fullmatch(name):
            raise BadHost("the Host header must be host[:port] (letters, digits, '.', '-', '_', '~' in the name)")
        name = name.lower()
    if not rest:
        return Authority(name, None)
    if not rest.startswith(":") or not _PORT.fullmatch(rest[1:]) or not 0 < int(rest[1:]) < 65536:
        raise BadHost("the Host header's port must be a number from 1 to 65535")
    return Authority(name, int(rest[1:]))


def request_url(authority: Authority, raw_path: bytes, query: bytes) -> str:
    """The URL user code sees: scheme and authority from Host, path and query from the request line."""
    path = raw_path.decode("latin-1")
    if not path.startswith("/"):
        path = "/" + path
    url = f"http://{authority}{path}"
    return url + "?" + query.decode("latin-1") if query else url
