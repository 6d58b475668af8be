"""The local account: a SQLite database under `$TELNYX_EDGE_HOME` (default `~/.telnyx-edge`).

Every write runs in `BEGIN IMMEDIATE`, so concurrent `new-func` processes serialise on
SQLite's write lock instead of racing on check-then-insert; the name's UNIQUE constraint is
the last word on duplicates.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telnyx_edge.account.models import CREATED, DEPLOY_OK, OWNER, FunctionRecord, RevisionRecord
from telnyx_edge.errors import AccountError

DB_NAME = "account.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    directory TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    serving_revision TEXT
);
CREATE TABLE IF NOT EXISTS revisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    func_id TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    path TEXT NOT NULL,
    manifest TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS revisions_by_func ON revisions(func_id, seq);
"""

_FUNC_COLUMNS = "id, name, status, directory, kind, created_at, updated_at, serving_revision"
_F_FUNC_COLUMNS = ", ".join(f"f.{column.strip()}" for column in _FUNC_COLUMNS.split(","))
_REV_COLUMNS = "id, func_id, created_at, status, path, manifest"


def edge_home() -> Path:
    """The account's home: `$TELNYX_EDGE_HOME`, else `~/.telnyx-edge`."""
    from telnyx_edge import settings

    return settings.get().home


def open_account(home: Path | None = None) -> LocalAccount:
    return LocalAccount(home or edge_home())


OwnershipCheck = Callable[[dict[str, FunctionRecord]], None]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class LocalAccount:
    def __init__(self, home: Path) -> None:
        self._home = home
        self.db_path = home / DB_NAME
        self._conn: sqlite3.Connection | None = None

    @property
    def home(self) -> Path:
        return self._home

    # -- connection -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        if self.db_path.is_dir():
            raise not_a_file(self.db_path)
        try:
            self._home.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.db_path, timeout=60, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise AccountError(
                f"Cannot open the account database {self.db_path}: {exc}",
                hint="Check that TELNYX_EDGE_HOME points at a writable directory.",
            ) from exc
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """WAL, the schema, and a check that the tables are ours; a file that is not a SQLite
        database (or another program's) is an AccountError naming it, never a crash later."""
        try:
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA foreign_keys = ON")
            # Switching to WAL needs the write lock; many processes starting at once retry it.
            for attempt in range(200):
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                    with _immediate(conn):
                        for statement in filter(str.strip, _SCHEMA.split(";")):
                            conn.execute(statement)
                    break
                except sqlite3.OperationalError as exc:
                    if "lock" not in str(exc) and "busy" not in str(exc):
                        raise
                    if attempt == 199:
                        raise AccountError(
                            f"The account database {self.db_path} stayed locked: {exc}",
                            hint="Another telnyx-edge process holds it; try again when it has finished.",
                        ) from exc
                    time.sleep(0.01)
            conn.execute(f"SELECT {_FUNC_COLUMNS} FROM functions LIMIT 0")
            conn.execute(f"SELECT {_REV_COLUMNS} FROM revisions LIMIT 0")
        except sqlite3.DatabaseError as exc:
            raise damaged(self.db_path, exc) from exc

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- functions --------------------------------------------------------------------

    def register(self, name: str, directory: Path, kind: str) -> FunctionRecord:
        conn = self._connect()
        func_id = str(uuid.uuid4())
        now = _now()
        try:
            with _immediate(conn):
                conn.execute(
                    f"INSERT INTO functions ({_FUNC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    (func_id, name, CREATED, str(directory), kind, now, now),
                )
        except sqlite3.IntegrityError as exc:
            raise AccountError(
                f"A function named '{name}' already exists on this account",
                hint=f"Pick another name, or remove the old one with: telnyx-edge delete-func {name}",
            ) from exc
        return self.resolve(func_id)

    def find(self, ref: str) -> FunctionRecord | None:
        """A function by exact id, by name, or by a unique id prefix of 8+ characters."""
        conn = self._connect()
        row = conn.execute(
            f"SELECT {_FUNC_COLUMNS} FROM functions WHERE id = ? OR name = ?", (ref, ref)
        ).fetchone()
        if row is None and len(ref) >= 8:
            rows = conn.execute(
                f"SELECT {_FUNC_COLUMNS} FROM functions WHERE id LIKE ? ESCAPE '\\'",
                (ref.replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return FunctionRecord(*row) if row else None

    def resolve(self, ref: str) -> FunctionRecord:
        record = self.find(ref)
        if record is None:
            raise AccountError(
                f"No function '{ref}' on this account",
                hint="Run 'telnyx-edge list' to see the functions and their ids.",
            )
        return record

    def functions(self) -> list[FunctionRecord]:
        rows = self._connect().execute(
            f"SELECT {_FUNC_COLUMNS} FROM functions ORDER BY created_at, name"
        ).fetchall()
        return [FunctionRecord(*row) for row in rows]

    def delete(self, func_id: str) -> None:
        conn = self._connect()
        with _immediate(conn):
            conn.execute("DELETE FROM revisions WHERE func_id = ?", (func_id,))
            conn.execute("DELETE FROM functions WHERE id = ?", (func_id,))
        _remove_tree(self._home / "revisions" / func_id)

    def set_status(self, func_id: str, status: str) -> FunctionRecord:
        conn = self._connect()
        with _immediate(conn):
            conn.execute(
                "UPDATE functions SET status = ?, updated_at = ? WHERE id = ?", (status, _now(), func_id)
            )
        return self.resolve(func_id)

    # -- revisions --------------------------------------------------------------------

    def add_revision(
        self, func_id: str, files: dict[str, bytes], manifest: dict[str, Any], status: str = "deploy_ok"
    ) -> RevisionRecord:
        """Store `files` as a new immutable revision (files written read-only, then the row)."""
        revision_id, directory = self._write_files(func_id, files, manifest)
        conn = self._connect()
        with _immediate(conn):
            self._insert_revision(conn, revision_id, func_id, status, directory, manifest)
        return self.revision(func_id, revision_id)

    def deploy(
        self, func_id: str, files: dict[str, bytes], manifest: dict[str, Any],
        check: OwnershipCheck | None = None,
    ) -> RevisionRecord:
        """Store a `deploy_ok` revision and make it serving, in one transaction.

        `check(owners)` runs under the write lock with the account's current type owners, so
        two ships racing for the same actor type cannot both win; if it raises, nothing is
        recorded and the revision's files are removed.
        """
        revision_id, directory = self._write_files(func_id, files, manifest)
        conn = self._connect()
        try:
            with _immediate(conn):
                if conn.execute("SELECT 1 FROM functions WHERE id = ?", (func_id,)).fetchone() is None:
                    raise AccountError(
                        f"Function {func_id} is not on this account",
                        hint="Run 'telnyx-edge list' to see the functions and their ids.",
                    )
                if check is not None:
                    check(self._owners(conn))
                self._insert_revision(conn, revision_id, func_id, DEPLOY_OK, directory, manifest)
                conn.execute(
                    "UPDATE functions SET serving_revision = ?, status = ?, updated_at = ? WHERE id = ?",
                    (revision_id, DEPLOY_OK, _now(), func_id),
                )
        except BaseException:
            _remove_tree(directory)
            raise
        return self.revision(func_id, revision_id)

    def rollback(self, func_id: str, revision_id: str, check: OwnershipCheck | None = None) -> FunctionRecord:
        """Serve an earlier `deploy_ok` revision again (`check` as in `deploy`)."""
        target = self.revision(func_id, revision_id)
        if target.status != DEPLOY_OK:
            raise AccountError(
                f"Revision {target.id} has status {target.status}; only deploy_ok revisions can be served",
                hint=f"Pick a deploy_ok revision from 'telnyx-edge revisions list {self._name_of(func_id)}'.",
            )
        conn = self._connect()
        with _immediate(conn):
            if check is not None:
                check(self._owners(conn))
            conn.execute(
                "UPDATE functions SET serving_revision = ?, status = ?, updated_at = ? WHERE id = ?",
                (target.id, DEPLOY_OK, _now(), func_id),
            )
        return self.resolve(func_id)

    def owners(self) -> dict[str, FunctionRecord]:
        """Actor type -> the function whose serving revision owns it (ships its class)."""
        return self._owners(self._connect())

    def referrers(self, type_: str) -> list[FunctionRecord]:
        """Functions whose serving revision binds `type_` as a reference (ships no class for it)."""
        return [
            record for record, manifest in self._serving(self._connect())
            if any(a.get("type") == type_ and a.get("role") != OWNER for a in manifest.get("actors", []))
        ]

    def _owners(self, conn: sqlite3.Connection) -> dict[str, FunctionRecord]:
        owners: dict[str, FunctionRecord] = {}
        for record, manifest in self._serving(conn):
            for actor in manifest.get("actors", []):
                if actor.get("role") == OWNER:
                    owners.setdefault(str(actor["type"]), record)
        return owners

    def _serving(self, conn: sqlite3.Connection) -> list[tuple[FunctionRecord, dict[str, Any]]]:
        """Every function that serves a revision, with that revision's manifest (oldest function first)."""
        rows = conn.execute(
            f"SELECT {_F_FUNC_COLUMNS}, r.manifest FROM functions f "
            "JOIN revisions r ON r.id = f.serving_revision AND r.func_id = f.id ORDER BY f.created_at"
        ).fetchall()
        return [(FunctionRecord(*row[:-1]), json.loads(row[-1])) for row in rows]

    def _write_files(
        self, func_id: str, files: dict[str, bytes], manifest: dict[str, Any]
    ) -> tuple[str, Path]:
        revision_id = uuid.uuid4().hex[:12]
        directory = self._home / "revisions" / func_id / revision_id
        directory.mkdir(parents=True)
        contents = {**files, "manifest.json": json.dumps(manifest, indent=2, sort_keys=True).encode()}
        for name, content in contents.items():
            target = directory / name
            target.write_bytes(content)
            target.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        return revision_id, directory

    @staticmethod
    def _insert_revision(
        conn: sqlite3.Connection, revision_id: str, func_id: str, status: str, directory: Path,
        manifest: dict[str, Any],
    ) -> None:
        conn.execute(
            f"INSERT INTO revisions ({_REV_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (revision_id, func_id, _now(), status, str(directory), json.dumps(manifest, sort_keys=True)),
        )

    def revisions(self, func_id: str) -> list[RevisionRecord]:
        rows = self._connect().execute(
            f"SELECT {_REV_COLUMNS} FROM revisions WHERE func_id = ? ORDER BY seq DESC", (func_id,)
        ).fetchall()
        return [_revision(row) for row in rows]

    def revision(self, func_id: str, revision_id: str) -> RevisionRecord:
        row = self._connect().execute(
            f"SELECT {_REV_COLUMNS} FROM revisions WHERE func_id = ? AND (id = ? OR id LIKE ?)",
            (func_id, revision_id, revision_id + "%"),
        ).fetchall()
        if len(row) != 1:
            raise AccountError(
                f"No revision '{revision_id}' for this function",
                hint=f"Run 'telnyx-edge revisions list {self._name_of(func_id)}' to see its revisions.",
            )
        return _revision(row[0])

    def _name_of(self, func_id: str) -> str:
        """The function's name for a hint (its id when it is gone)."""
        record = self.find(func_id)
        return record.name if record is not None else func_id

    def set_serving(self, func_id: str, revision_id: str) -> FunctionRecord:
        conn = self._connect()
        with _immediate(conn):
            conn.execute(
                "UPDATE functions SET serving_revision = ?, updated_at = ? WHERE id = ?",
                (revision_id, _now(), func_id),
            )
        return self.resolve(func_id)


def damaged(path: Path, exc: BaseException) -> AccountError:
    """The error for an account database that SQLite cannot read as ours."""
    return AccountError(
        f"The account database {path} is damaged or not a telnyx-edge account ({exc})",
        hint=f"Move it aside (mv {path} {path}.bad) to start an empty account, or restore it from a backup.",
    )


def not_a_file(path: Path) -> AccountError:
    return AccountError(
        f"The account database {path} is a directory, not a file",
        hint=f"Move it aside (mv {path} {path}.bad); the next command starts an empty account.",
    )


def count_functions(home: Path) -> int:
    """Open `home`'s account database read-only and count its functions (for `status`).

    Raises AccountError when the file cannot be opened or read as an account database."""
    path = home / DB_NAME
    if path.is_dir():
        raise not_a_file(path)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise AccountError(f"Cannot open the account database {path}: {exc}", hint="Check its permissions.") from exc
    try:
        conn.execute(f"SELECT {_FUNC_COLUMNS} FROM functions LIMIT 0")  # the tables are ours
        conn.execute(f"SELECT {_REV_COLUMNS} FROM revisions LIMIT 0")
        return int(conn.execute("SELECT count(*) FROM functions").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise damaged(path, exc) from exc
    finally:
        conn.close()


def _revision(row: tuple[Any, ...]) -> RevisionRecord:
    return RevisionRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for child in sorted(path.rglob("*"), reverse=True):
        if child.is_dir():
            child.rmdir()
        else:
            child.chmod(stat.S_IWUSR | stat.S_IRUSR)
            child.unlink()
    path.rmdir()
