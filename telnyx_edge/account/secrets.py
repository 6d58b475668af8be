"""Secrets of the local account: `telnyx-edge secrets add|list|delete` (spec 1.9).

Organisation-scoped on the platform, so one set per account here: every secret reaches every
function as a process environment variable (spec 2.3), and `env.SECRETS.get(handle)` resolves a
`[[secrets]]` binding to one of them. Names are normalised to upper case; `add` on an existing
name overwrites it. Values are never returned by `list` and never appear in a message.

Stored in `$TELNYX_EDGE_HOME/secrets.json`, a file only its owner can read or write (0600).
It is local and NOT encrypted: anyone who can read your files as you can read it.
Writes go to a new 0600 file that replaces the old one, under an exclusive lock, so
concurrent `add`s never lose each other's writes and a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telnyx_edge.errors import AccountError, UsageError

FILE_NAME = "secrets.json"
NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
MAX_NAME_BYTES = 256  # an environment variable name (spec 7.2)
MAX_VALUE_BYTES = 10 * 1024  # spec 7.2: value <= 10 KB
MAX_SECRETS = 100  # spec 7.2: secrets per organisation


@dataclass(frozen=True)
class SecretRecord:
    """A secret as `list` shows it: never its value."""

    id: str
    name: str
    created_at: str  # ISO 8601, UTC
    updated_at: str


def normalise_name(name: str) -> str:
    """`gateway_key` -> `GATEWAY_KEY`; raises UsageError for a name that is not an env var name."""
    upper = name.strip().upper()
    if not NAME_RE.match(upper) or len(upper.encode()) > MAX_NAME_BYTES:
        raise UsageError(
            f"{name!r} is not a valid secret name",
            hint="Use letters, digits and underscores, not starting with a digit (it becomes an environment variable).",
        )
    return upper


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class SecretStore:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / FILE_NAME

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            lock = open(self.home / f".{FILE_NAME}.lock", "w")
        except OSError as exc:
            raise AccountError(
                f"Cannot open the account's secrets in {self.home}: {exc.strerror}",
                hint="Check that TELNYX_EDGE_HOME points at a writable directory.",
            ) from exc
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise AccountError(f"Cannot read {self.path}: {exc.strerror}", hint="Check the file's permissions.") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            # The message must not quote the file: it holds secret values.
            raise AccountError(
                f"{self.path} is not valid JSON", hint="Restore it from a backup, or delete it and add the secrets again.",
            ) from exc
        if not isinstance(data, dict):
            raise AccountError(f"{self.path} is not a secrets file", hint="Delete it and add the secrets again.")
        return data

    def _write(self, data: dict[str, dict[str, Any]]) -> None:
        temp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        # O_EXCL with mode 0600: the value is never, even briefly, in a file others can read.
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.path)

    def add(self, name: str, value: str) -> tuple[SecretRecord, bool]:
        """Store `value` under the upper-cased `name`; returns the record and whether it already existed."""
        key = normalise_name(name)
        try:
            encoded = value.encode()
        except UnicodeEncodeError:
            # Bytes that are not UTF-8 arrive from argv or stdin as lone surrogates.
            raise UsageError(
                f"The value of secret {key} is not UTF-8 text", hint="Pass the value as UTF-8 text (base64-encode binary data)."
            ) from None
        if not encoded:
            raise UsageError(f"The value of secret {key} is empty", hint="Pass a value: telnyx-edge secrets add NAME VALUE.")
        if len(encoded) > MAX_VALUE_BYTES:
            raise UsageError(
                f"The value of secret {key} is {len(value.encode())} bytes; the limit is {MAX_VALUE_BYTES}",
                hint="Store large data in a KV namespace or a bucket, and keep only a key in the secret.",
            )
        with self._locked():
            data = self._read()
            existing = data.get(key)
            if existing is None and len(data) >= MAX_SECRETS:
                raise AccountError(
                    f"The account already has {MAX_SECRETS} secrets, the limit",
                    hint="Delete one you no longer need: telnyx-edge secrets delete NAME",
                )
            now = _now()
            entry = {
                "id": existing["id"] if existing else str(uuid.uuid4()),
                "created_at": existing["created_at"] if existing else now,
                "updated_at": now,
                "value": value,
            }
            data[key] = entry
            self._write(data)
        return _record(key, entry), existing is not None

    def list(self) -> list[SecretRecord]:
        """Every secret, by name; values are not part of the records."""
        data = self._read()
        return [_record(name, data[name]) for name in sorted(data)]

    def delete(self, name: str) -> SecretRecord:
        key = normalise_name(name)
        with self._locked():
            data = self._read()
            entry = data.pop(key, None)
            if entry is None:
                raise AccountError(
                    f"No secret named '{key}' on this account",
                    hint="Run 'telnyx-edge secrets list' to see the secrets.",
                )
            self._write(data)
        return _record(key, entry)

    def values(self) -> dict[str, str]:
        """Name -> value of every secret, for the runtime to inject. Never print this."""
        return {name: str(entry.get("value", "")) for name, entry in self._read().items()}


def _record(name: str, entry: dict[str, Any]) -> SecretRecord:
    return SecretRecord(str(entry["id"]), name, str(entry["created_at"]), str(entry["updated_at"]))
