"""The address `dev` and `serve` listen on: checked before the runtime starts.

An address this machine does not have, or a name that does not resolve, is a usage error that
says so (binding later would fail with a message about ports). Binding beyond loopback is
allowed, as an explicit choice the caller warns about.
"""

from __future__ import annotations

import ipaddress
import socket

from telnyx_edge.errors import UsageError

_HINT = "Use 127.0.0.1 (this machine only), or an address of one of its interfaces (0.0.0.0 for all of them)."


def check_listen_host(host: str, flag: str = "--host") -> bool:
    """Whether `host` is a loopback address; raises UsageError when this machine cannot
    listen on it (it does not resolve, or is not one of its addresses). Probes with port 0,
    so a busy port is not confused with a bad host."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as the server binds
    try:
        infos = socket.getaddrinfo(host, 0, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a valid host name"
        raise UsageError(f"{flag} {host!r} is not an address or a known host name ({reason})", hint=_HINT) from exc
    address = str(infos[0][4][0])
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.bind((host, 0))
    except OSError as exc:
        raise UsageError(
            f"{flag} {host!r} is not an address of this machine ({exc.strerror or exc})", hint=_HINT,
        ) from exc
    finally:
        probe.close()
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str:
    """The warning for a host beyond loopback."""
    return (
        f"--host {host} listens beyond this machine: anyone who can reach it can call your functions "
        "and their actors (no authentication locally)"
    )
