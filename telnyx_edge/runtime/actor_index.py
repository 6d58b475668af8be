"""The instance index: which actors exist under a state directory, their alarms and their sizes.

Each actor's durable state is its own SQLite file (`actors/<type>/<sha256(name)[:32]>.sqlite`,
schema in `js/actor-schema.sql`), opened and committed by the isolate hosting it. This index is
a cache over those files, owned by the runtime's Python side: isolates report alarm changes
(after they are durable) and usage figures (every few seconds and on eviction), and the alarm
scheduler and `actors instances` read it instead of opening every file.

It is never the truth: writes are not synced, and a runtime that did not stop cleanly (the
`clean` flag is cleared while one runs) rebuilds it from the files on the next start, so an
alarm committed just before a kill -9 is found again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from telnyx_edge.runtime.jsmodule import JS_DIR
from telnyx_edge.runtime.wire import STATS_ROW

ActorKey = tuple[str, str]
INDEX_FILE = "index.sqlite3"
ACTORS_DIR = "actors"
ACTOR_SCHEMA = (JS_DIR / "actor-schema.sql").read_text(encoding="utf-8")
ACTOR_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    type TEXT NOT NULL,
    name BLOB NOT NULL,            -- WTF-8, as in the actor's own file
    last_activity_ms INTEGER NOT NULL DEFAULT 0,
    keys INTEGER NOT NULL DEFAULT 0,
    value_bytes INTEGER NOT NULL DEFAULT 0,
    sql_tables INTEGER NOT NULL DEFAULT 0,
    db_bytes INTEGER NOT NULL DEFAULT 0,
    alarm_fire_ms INTEGER,
    PRIMARY KEY (type, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS instances_alarm ON instances(alarm_fire_ms) WHERE alarm_fire_ms IS NOT NULL;
CREATE TABLE IF NOT EXISTS flags (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def encode_name(name: str) -> bytes:
    """WTF-8: a lone surrogate round-trips (the Node side's keys.mjs writes the same bytes)."""
    return name.encode("utf-8", "surrogatepass")


def decode_name(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "surrogatepass")


def actor_file(state_dir: Path, type_: str, name: str) -> Path:
    """The database of actor (type, name); the Node side computes the same path (actordb.mjs)."""
    digest = hashlib.sha256(encode_name(name)).hexdigest()[:32]
    return state_dir / ACTORS_DIR / type_ / f"{digest}.sqlite"


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """What `actors instances` shows about one actor: never its values."""

    type: str
    name: str
    last_activity_ms: int
    keys: int
    value_bytes: int
    sql_tables: int
    db_bytes: int
    alarm_fire_ms: int | None


def read_actor_file(path: Path, read_only: bool = False) -> InstanceRow | None:
    """Open one actor database and describe it: read-write so WAL recovery can run (at start),
    or read-only beside a running activation (`read_only`)."""
    try:
        target = f"file:{quote(str(path.resolve()))}?mode=ro" if read_only else str(path)
        with closing(sqlite3.connect(target, uri=read_only, timeout=5)) as conn:
            meta = conn.execute("SELECT type, name, alarm_fire_ms FROM __telnyx_meta WHERE id = 1").fetchone()
            if meta is None:
                return None
            keys, value_bytes = conn.execute(
                "SELECT count(*), coalesce(sum(length(value)), 0) FROM __telnyx_kv"
            ).fetchone()
            tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE '\\_\\_telnyx\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
            ).fetchone()[0]
        # With WAL, a commit writes the -wal file; the database file changes at checkpoints.
        files = [p.stat() for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    except (sqlite3.Error, OSError):
        return None
    if not files:
        return None
    return InstanceRow(
        meta[0], decode_name(meta[1]), int(max(f.st_mtime for f in files) * 1000), keys, value_bytes, tables,
        sum(f.st_size for f in files), meta[2],
    )


def actor_files(state_dir: Path) -> Iterator[Path]:
    root = state_dir / ACTORS_DIR
    if root.is_dir():
        yield from sorted(root.glob("*/*.sqlite"))


class ActorIndex:
    """The index of one state directory, open while a runtime runs there (one at a time)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / INDEX_FILE
        self._conn: sqlite3.Connection | None = None
        self.rebuilt = 0  # actor files read by the last rebuild (0: the index was clean)
        self.replaced_corrupt = False  # the last open found the index corrupt and set it aside

    def needs_rebuild(self) -> bool:
        """Whether open() will read every actor database (an unclean stop, or no index yet)."""
        if not any(actor_files(self.state_dir)):
            return False
        if not self.path.is_file():
            return True
        try:
            with closing(sqlite3.connect(self.path, timeout=5)) as conn:
                row = conn.execute("SELECT value FROM flags WHERE name = 'clean'").fetchone()
        except sqlite3.Error:
            return True
        return row is None or row[0] != 1

    def open(self) -> None:
        """Open (or create) the index; a corrupt one is set aside and rebuilt (it is a cache)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            conn, clean = self._connect()
        except sqlite3.DatabaseError:
            self.replaced_corrupt = True
            for suffix in ("", "-wal", "-shm"):
                damaged = Path(f"{self.path}{suffix}")
                if damaged.exists():
                    damaged.replace(f"{self.path}.corrupt{suffix}")  # kept for a post-mortem
            conn, clean = self._connect()
        self._conn = conn
        if not clean:
            self.rebuild()
        conn.execute("INSERT OR REPLACE INTO flags VALUES ('clean', 0)")

    def _connect(self) -> tuple[sqlite3.Connection, bool]:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = OFF")  # a cache: rebuilt from the files after a crash
            conn.executescript(_SCHEMA)
            if conn.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":  # small: a row per actor
                raise sqlite3.DatabaseError("the instance index failed its integrity check")
            clean = conn.execute("SELECT value FROM flags WHERE name = 'clean'").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn, clean is not None and clean[0] == 1

    def close(self) -> None:
        """Mark the index as matching the files (call only after every isolate has stopped)."""
        if self._conn is None:
            return
        self._conn.execute("INSERT OR REPLACE INTO flags VALUES ('clean', 1)")
        self._conn.close()
        self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "the index is not open"
        return self._conn

    def rebuild(self) -> None:
        rows = [row for row in map(read_actor_file, actor_files(self.state_dir)) if row is not None]
        conn = self.conn
        conn.execute("BEGIN")
        conn.execute("DELETE FROM instances")
        conn.executemany(
            "INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.type, encode_name(r.name), r.last_activity_ms, r.keys, r.value_bytes, r.sql_tables, r.db_bytes,
              r.alarm_fire_ms) for r in rows],
        )
        conn.execute("COMMIT")
        self.rebuilt = len(rows)

    def alarms(self) -> list[tuple[ActorKey, int]]:
        return [
            ((t, decode_name(n)), int(f))
            for t, n, f in self.conn.execute(
                "SELECT type, name, alarm_fire_ms FROM instances WHERE alarm_fire_ms IS NOT NULL"
            )
        ]

    def set_alarm(self, actor: ActorKey, fire_ms: int | None) -> None:
        self.conn.execute(
            "INSERT INTO instances (type, name, alarm_fire_ms) VALUES (?, ?, ?) "
            "ON CONFLICT(type, name) DO UPDATE SET alarm_fire_ms = excluded.alarm_fire_ms",
            (actor[0], encode_name(actor[1]), fire_ms),
        )

    def apply_stats(self, rows: Iterable[list[Any]]) -> None:
        """Rows as the isolates send them (`wire.STATS_ROW`)."""
        values = []
        for row in rows:
            if len(row) != len(STATS_ROW):
                continue
            values.append((row[0], encode_name(str(row[1])), *row[2:]))
        if not values:
            return
        conn = self.conn
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
        conn.execute("COMMIT")


def list_instances(state_dir: Path, type_: str, limit: int | None = None) -> list[InstanceRow]:
    """Instances of `type_` under `state_dir`, newest activity first (read-only; a runtime may run).

    The index learns an activation's figures from its usage report (every few seconds while in
    use): an instance created since is read from its own file, so it is listed at once and with
    its real figures, not as the empty row its alarm put in the index (keys 0, activity 0)."""
    path = state_dir / INDEX_FILE
    if not path.is_file():
        # No runtime has run here since the files were written (a migration, a copy): read them.
        found = [r for r in map(read_actor_file, actor_files(state_dir)) if r is not None and r.type == type_]
    else:
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
            indexed = [
                InstanceRow(r[0], decode_name(r[1]), r[2], r[3], r[4], r[5], r[6], r[7])
                for r in conn.execute("SELECT * FROM instances WHERE type = ?", (type_,))
            ]
        found = _with_unreported(state_dir, type_, indexed)
    found.sort(key=lambda r: (-r.last_activity_ms, r.name))
    return found[:limit] if limit is not None else found


def _with_unreported(state_dir: Path, type_: str, indexed: list[InstanceRow]) -> list[InstanceRow]:
    """`indexed`, with rows never reported (activity 0) and files the index lacks read from the files."""
    by_file = {actor_file(state_dir, type_, r.name).name: r for r in indexed}
    out = [r for r in indexed if r.last_activity_ms != 0]
    folder = state_dir / ACTORS_DIR / type_
    on_disk = {p.name: p for p in folder.glob("*.sqlite")} if folder.is_dir() else {}
    for file_name, file in on_disk.items():
        row = by_file.get(file_name)
        if row is not None and row.last_activity_ms != 0:
            continue
        read = read_actor_file(file, read_only=True)
        if read is not None and read.type == type_:
            out.append(read)
        elif row is not None:
            out.append(row)
    # A row whose file is gone (or not yet written) is kept as the index has it.
    out.extend(r for name, r in by_file.items() if r.last_activity_ms == 0 and name not in on_disk)
    return out
