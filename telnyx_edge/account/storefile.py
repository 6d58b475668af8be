"""Opening the data file of a KV namespace or SQL database (`$TELNYX_EDGE_HOME/storage/`): a
file SQLite cannot read is an AccountError naming it, not a crash in the middle of a command."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from telnyx_edge.errors import AccountError


def open_store(path: Path) -> sqlite3.Connection:
    """A connection to the data file at `path` (busy timeout set), checked readable."""
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    except sqlite3.Error as exc:
        raise AccountError(f"Cannot open the data file {path}: {exc}", hint="Check that the file exists and is readable.") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise AccountError(
            f"The data file {path} is damaged or not a SQLite database ({exc})",
            hint="Restore it from a backup, or delete the namespace or database and create it again.",
        ) from exc
    return conn
