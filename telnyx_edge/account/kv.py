"""The pairs of one KV namespace: the file format, the key rules, and the CLI's reads and writes.

The runtime's `KvNamespace` binding (`runtime/js/bindings/kv.mjs`) reads and writes the same
file with better-sqlite3; this module owns its schema. Rules (spec 3.10): keys are 1-256
characters from `a-z A-Z 0-9 - _ / = .` (colons rejected), values at most 1 MiB, last write
wins. A pair with an expiry is gone once `expires_at` (ms since the epoch) has passed.
"""

from __future__ import annotations

import base64
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from telnyx_edge.errors import UsageError

SCHEMA = """CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_at INTEGER,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID"""

KEY_RE = re.compile(r"^[A-Za-z0-9\-_/=.]{1,256}$")
MAX_VALUE_BYTES = 1024 * 1024
MAX_LIST = 1000
_DURATION_RE = re.compile(r"^(\d+)(s|m|h|d)?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class KvKey:
    name: str
    size_bytes: int
    updated_at_ms: int
    expires_at_ms: int | None


def check_key(key: str) -> str:
    if not KEY_RE.match(key):
        raise UsageError(
            f"{key!r} is not a valid KV key",
            hint="Keys are 1-256 characters from a-z A-Z 0-9 - _ / = . (colons are not allowed).",
        )
    return key


_MAX_TTL_S = 100 * 365 * 86400  # a century; expiry times must stay printable dates


def parse_ttl(text: str) -> int:
    """`30s`, `10m`, `2h`, `1d` or plain seconds -> seconds (at least 1)."""
    match = _DURATION_RE.match(text.strip())
    seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"] if match else 0
    if seconds <= 0:
        raise UsageError(f"--ttl {text!r} is not a duration", hint="Use a positive number of seconds, or 30s, 10m, 2h, 1d.")
    if seconds > _MAX_TTL_S:
        raise UsageError(f"--ttl {text!r} reaches past the year 9999", hint="Use a shorter duration, e.g. 365d.")
    return seconds


def _open(path: Path) -> sqlite3.Connection:
    from telnyx_edge.account.storefile import open_store

    return open_store(path)


def put(path: Path, key: str, value: bytes, ttl_s: int | None = None) -> None:
    check_key(key)
    if len(value) > MAX_VALUE_BYTES:
        raise UsageError(
            f"The value is {len(value)} bytes; a KV value is at most {MAX_VALUE_BYTES} bytes (1 MiB)",
            hint="Split it over several keys, or keep large objects in a cloud storage bucket.",
        )
    now = int(time.time() * 1000)
    expires = now + ttl_s * 1000 if ttl_s else None
    conn = _open(path)
    try:
        conn.execute(
            "INSERT INTO kv (key, value, expires_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, "
            "updated_at = excluded.updated_at",
            (key, value, expires, now),
        )
    finally:
        conn.close()


def get(path: Path, key: str) -> bytes | None:
    check_key(key)
    conn = _open(path)
    try:
        row = conn.execute(
            "SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (key, int(time.time() * 1000)),
        ).fetchone()
    finally:
        conn.close()
    return bytes(row[0]) if row else None


def delete(path: Path, key: str) -> bool:
    """Remove a key; deleting a missing key is not an error (returns False)."""
    check_key(key)
    conn = _open(path)
    try:
        return conn.execute("DELETE FROM kv WHERE key = ?", (key,)).rowcount > 0
    finally:
        conn.close()


def list_keys(path: Path, prefix: str = "", cursor: str | None = None, limit: int = MAX_LIST) -> tuple[list[KvKey], str | None]:
    """Live keys in key order from `cursor` on; returns them and the next cursor (None at the end)."""
    after = decode_cursor(cursor) if cursor else ""
    limit = max(1, min(limit, MAX_LIST))
    conn = _open(path)
    try:
        rows = conn.execute(
            "SELECT key, length(value), updated_at, expires_at FROM kv "
            "WHERE key > ? AND substr(key, 1, ?) = ? AND (expires_at IS NULL OR expires_at > ?) "
            "ORDER BY key LIMIT ?",
            (after, len(prefix), prefix, int(time.time() * 1000), limit + 1),
        ).fetchall()
    finally:
        conn.close()
    keys = [KvKey(str(r[0]), int(r[1]), int(r[2]), r[3]) for r in rows[:limit]]
    return keys, (encode_cursor(keys[-1].name) if len(rows) > limit else None)


def encode_cursor(last_key: str) -> str:
    """Cursors are the last key returned, base64url-encoded (the same in kv.mjs)."""
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{cursor!r} is not a cursor from a previous list", hint="Pass the cursor a list printed.") from None
