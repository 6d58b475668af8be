"""Parsers for flag values, run by the argument parser: a bad value is a usage error (exit 2)
before any command code runs or anything on disk is touched."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import typer


def path_value(raw: str | Path) -> Path:
    """A path flag: not empty (an empty path would silently mean the current directory) and
    without NUL characters (no file system accepts them)."""
    if isinstance(raw, Path):  # a default, already a Path
        return raw
    if not raw.strip():
        raise typer.BadParameter("must not be empty; pass a path (\".\" for the current directory)")
    if "\x00" in raw:
        raise typer.BadParameter("contains a NUL character, which no path can hold")
    return Path(raw)


def host_value(raw: str) -> str:
    """A `--host` value: an address or host name, never empty (an empty host binds every
    interface). Whether this machine can listen on it is checked by `telnyx_edge.hosts`."""
    if not raw.strip():
        raise typer.BadParameter("must not be empty; use 127.0.0.1 to listen on this machine only")
    if any(ch.isspace() or ch == "\x00" or ch in "/?#@" for ch in raw):
        raise typer.BadParameter(f"{raw!r} is not an address or a host name")
    if all(ch.isdigit() or ch == "." for ch in raw):
        try:
            ipaddress.IPv4Address(raw)
        except ValueError:
            raise typer.BadParameter(f"{raw!r} is not an IPv4 address (four numbers 0-255, e.g. 127.0.0.1)") from None
    return raw


def port_value(raw: str | int) -> int:
    """A `--port` value: a whole number from 0 (a free port is picked) to 65535."""
    if isinstance(raw, int):  # a default
        return raw
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or int(text) > 65535:
        raise typer.BadParameter(f"{raw!r} is not a port number (0 to 65535; 0 picks a free one)")
    return int(text)


DEFAULT_INSPECT = "127.0.0.1:9229"


def inspect_value(raw: str) -> str:
    """A `--inspect[=[HOST:]PORT]` value as "HOST:PORT" (host 127.0.0.1 unless given; port 0
    picks a free one). Bare `--inspect` is DEFAULT_INSPECT."""
    text = raw.strip()
    host, _, port = text.rpartition(":") if ":" in text else ("127.0.0.1", "", text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise typer.BadParameter(f"{raw!r} is not [HOST:]PORT (e.g. 9229 or 127.0.0.1:9229; 0 picks a free port)")
    host_value(host)
    return f"[{host}]:{int(port)}" if ":" in host else f"{host}:{int(port)}"
