"""KV namespaces and SQL databases of the local account (`telnyx-edge storage kv|sqldb`, spec 1.10).

The catalog (id, name, created) is a small SQLite file, `$TELNYX_EDGE_HOME/storage/catalog.db`;
each namespace's or database's data is its own SQLite file named by its id, so every function
that binds the same id, under `dev` or `serve`, shares it, as on the platform:

    storage/kv/<id>.sqlite       the namespace's pairs (schema in `account/kv.py`)
    storage/sqldb/<id>.sqlite    the database, the user's own tables only
    storage/buckets/<bucket>/    cloud storage objects (see runtime/js/bindings/bucket.mjs)

A runtime that binds an id the catalog does not know yet records it (named after the binding),
so local projects run without a `create` step; `create` is how you get an id to put in
telnyx.toml. Ids are UUIDs (spec 2.1), so a file name never comes from user text.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from telnyx_edge.errors import AccountError, UsageError

Kind = Literal["kv", "sqldb"]
KINDS: dict[Kind, str] = {"kv": "KV namespace", "sqldb": "SQL database"}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (kind, id),
    UNIQUE (kind, name)
)
"""


@dataclass(frozen=True)
class StoreRecord:
    kind: str  # "kv" or "sqldb"
    id: str
    name: str
    created_at: str
    path: Path

    @property
    def size_bytes(self) -> int:
        """Bytes on disk, the write-ahead log included."""
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())


def storage_dir(home: Path) -> Path:
    return home / "storage"


def data_path(home: Path, kind: Kind, id_: str) -> Path:
    """The SQLite file of a namespace or database; `id_` must be a UUID (checked here)."""
    return storage_dir(home) / kind / f"{canonical_id(id_)}.sqlite"


def bucket_path(home: Path, bucket: str) -> Path:
    if not BUCKET_RE.match(bucket) or ".." in bucket:
        raise UsageError(
            f"{bucket!r} is not a valid bucket name",
            hint="Use 3-63 lower-case letters, digits, dots and dashes, starting and ending with a letter or digit.",
        )
    return storage_dir(home) / "buckets" / bucket


def canonical_id(id_: str) -> str:
    try:
        return str(uuid.UUID(id_))
    except ValueError:
        raise UsageError(f"{id_!r} is not a UUID", hint="Ids come from 'telnyx-edge storage kv|sqldb create --name NAME'.") from None


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class Catalog:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = storage_dir(home) / "catalog.db"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise AccountError(
                f"Cannot open the storage catalog {self.path}: {exc}",
                hint="Check that TELNYX_EDGE_HOME points at a writable directory.",
            ) from exc
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute(_SCHEMA)
            yield conn
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError) or "locked" in str(exc):
                raise
            raise AccountError(
                f"The storage catalog {self.path} is damaged or not a telnyx-edge catalog ({exc})",
                hint=f"Move it aside (mv {self.path} {self.path}.bad); the namespaces' data files stay in {self.path.parent}.",
            ) from exc
        finally:
            conn.close()

    def _record(self, row: tuple[str, str, str, str]) -> StoreRecord:
        kind_text, id_, name, created = row
        kind: Kind = "kv" if kind_text == "kv" else "sqldb"
        return StoreRecord(kind, id_, name, created, data_path(self.home, kind, id_))

    def create(self, kind: Kind, name: str) -> StoreRecord:
        """A new namespace or database with a fresh UUID; its data file is created empty."""
        if not NAME_RE.match(name):
            raise UsageError(
                f"{name!r} is not a valid {KINDS[kind]} name",
                hint="Use 1-63 letters, digits, '.', '_' and '-', starting with a letter or digit.",
            )
        record = self._insert(kind, str(uuid.uuid4()), name)
        if record is None:
            raise AccountError(
                f"A {KINDS[kind]} named '{name}' already exists on this account",
                hint=f"Pick another name, or see it with: telnyx-edge storage {kind} get {name}",
            )
        _init_file(record)
        return record

    def _insert(self, kind: Kind, id_: str, name: str) -> StoreRecord | None:
        created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        with self._connect() as conn:
            try:
                conn.execute("INSERT INTO entries VALUES (?, ?, ?, ?)", (kind, id_, name, created))
            except sqlite3.IntegrityError:
                return None
        return StoreRecord(kind, id_, name, created, data_path(self.home, kind, id_))

    def ensure(self, kind: Kind, id_: str, name_hint: str) -> StoreRecord:
        """The entry for `id_`, recording it (named after the binding) if a runtime binds it first."""
        id_ = canonical_id(id_)
        found = self.find(kind, id_)
        if found is None:
            for name in (name_hint, f"{name_hint}-{id_[:8]}"):
                found = self._insert(kind, id_, name) or self.find(kind, id_)
                if found is not None:
                    break
        if found is None:
            raise AccountError(f"Cannot record {KINDS[kind]} {id_} on this account", hint="Try again.")
        _init_file(found)
        return found

    def list(self, kind: Kind) -> list[StoreRecord]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT kind, id, name, created_at FROM entries WHERE kind = ? ORDER BY created_at, name", (kind,)
            ).fetchall()
        return [self._record(row) for row in rows]

    def find(self, kind: Kind, ref: str) -> StoreRecord | None:
        """By id or by name."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT kind, id, name, created_at FROM entries WHERE kind = ? AND (id = ? OR name = ?)",
                (kind, ref.lower() if is_uuid(ref) else ref, ref),
            ).fetchone()
        return self._record(row) if row else None

    def get(self, kind: Kind, ref: str) -> StoreRecord:
        found = self.find(kind, ref)
        if found is None:
            raise AccountError(
                f"No {KINDS[kind]} '{ref}' on this account",
                hint=f"Run 'telnyx-edge storage {kind} list' to see them.",
            )
        return found

    def delete(self, kind: Kind, ref: str) -> StoreRecord:
        """Remove the entry and its data (a runtime that still binds the id starts it empty)."""
        record = self.get(kind, ref)
        with self._connect() as conn:
            conn.execute("DELETE FROM entries WHERE kind = ? AND id = ?", (kind, record.id))
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{record.path}{suffix}").unlink()
        return record


def _init_file(record: StoreRecord) -> None:
    """Create the data file (WAL mode; the KV table for a namespace) if it is missing."""
    from telnyx_edge.account import kv

    record.path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(record.path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        if record.kind == "kv":
            conn.execute(kv.SCHEMA)
    finally:
        conn.close()
