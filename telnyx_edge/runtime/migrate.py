"""One-time move of state written by the old single-file engine into per-actor databases.

Before per-actor storage, every actor's KV pairs and alarm lived in `actors.sqlite3` (tables
`kv` and `actors`). On the first start over such a state directory each actor gets its own
database (`actor_index.actor_file`, schema `js/actor-schema.sql`) holding the same keys, values
and alarm; the old file is then renamed `actors.sqlite3.migrated`, so the move happens once and
the original stays as a backup. Keys were already WTF-8 bytes and values V8-serialized bytes, so
both are copied as they are.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from telnyx_edge.errors import RuntimeStartError
from telnyx_edge.runtime.actor_index import ACTOR_SCHEMA, ACTOR_SCHEMA_VERSION, actor_file, encode_name

LEGACY_FILE = "actors.sqlite3"


def migrate_legacy(state_dir: Path) -> int | None:
    """Migrate `state_dir/actors.sqlite3` if present; returns how many actors moved (None: nothing to do).

    Raises RuntimeStartError if the old file cannot be read; nothing is renamed then.
    """
    legacy = state_dir / LEGACY_FILE
    if not legacy.is_file():
        return None
    try:
        with closing(sqlite3.connect(legacy, timeout=5)) as old:
            actors: dict[tuple[str, str], tuple[int | None, int | None, int]] = {}
            tables = {r[0] for r in old.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "actors" in tables:
                for t, n, alarm_ms, fire_ms, retries in old.execute(
                    "SELECT type, name, alarm_ms, alarm_fire_ms, alarm_retries FROM actors"
                ):
                    actors[(t, n)] = (alarm_ms, fire_ms, retries)
            if "kv" in tables:
                for t, n in old.execute("SELECT DISTINCT type, name FROM kv"):
                    actors.setdefault((t, n), (None, None, 0))
            for (type_, name), alarm in actors.items():
                rows = old.execute("SELECT key, value FROM kv WHERE type = ? AND name = ?", (type_, name)).fetchall()
                write_actor(state_dir, type_, name, rows, alarm)
    except sqlite3.Error as exc:
        raise RuntimeStartError(
            f"cannot migrate the old actor state {legacy}: {exc}",
            hint="Move the file aside to start with empty state, or point --state elsewhere.",
        ) from exc
    for suffix in ("", "-wal", "-shm"):
        src = legacy.with_name(legacy.name + suffix)
        if src.exists():
            os.replace(src, legacy.with_name(legacy.name + ".migrated" + suffix))
    return len(actors)


def write_actor(
    state_dir: Path, type_: str, name: str, rows: list[tuple[bytes, bytes]],
    alarm: tuple[int | None, int | None, int] = (None, None, 0),
) -> None:
    """Create (or overwrite the KV pairs and alarm of) one actor's database, durably.

    `rows` are (WTF-8 key, encoded value) pairs; `alarm` is (alarm_ms, fire_ms, retries).
    Only while no runtime holds the state directory.
    """
    path = actor_file(state_dir, type_, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.executescript(ACTOR_SCHEMA)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT OR REPLACE INTO __telnyx_meta (id, type, name, alarm_ms, alarm_fire_ms, alarm_retries) "
            "VALUES (1, ?, ?, ?, ?, ?)",
            (type_, encode_name(name), *alarm),
        )
        conn.executemany("INSERT OR REPLACE INTO __telnyx_kv (key, value) VALUES (?, ?)", rows)
        conn.execute(f"PRAGMA user_version = {ACTOR_SCHEMA_VERSION}")
        conn.execute("COMMIT")
