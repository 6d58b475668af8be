"""The log store: what `dev` and `serve` recorded (request lines, actor invocations, user output),
kept under `$TELNYX_EDGE_HOME/logs/` for `telnyx-edge logs` and `actors logs` (spec 1.8, 1.11).

Layout: `functions/NAME.jsonl` holds a function's request records and every console record of
its code (its actors' included); `actors/TYPE.jsonl` holds a type's invocation records and its
actors' console records. One JSON array per line, as the data plane produced it (js/logrecords.mjs):

    ["request", ts_ms, function, method, path, status, duration_ms]
    ["call",    ts_ms, function, type, name, method, outcome, duration_ms]
    ["console", ts_ms, function, type, name, level, text]        (type, name "" outside an actor)

Bounded: a file past MAX_FILE_BYTES becomes `NAME.jsonl.1` (replacing the previous one), so a name
keeps at most twice that. Appends are whole lines in one write, so a reader (`logs --tail`) never
sees half a record it cannot skip. Names that are not safe file names are not stored.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 4 * 1024 * 1024
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$.-]{0,127}$")

RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "request": ("kind", "ts_ms", "function", "method", "path", "status", "duration_ms"),
    "call": ("kind", "ts_ms", "function", "type", "name", "method", "outcome", "duration_ms"),
    "console": ("kind", "ts_ms", "function", "type", "name", "level", "text"),
}
"""Field names of each record kind (the twin of js/logrecords.mjs), for --json output."""


@functools.lru_cache(maxsize=1024)
def safe_name(name: str) -> bool:
    """Whether `name` (a function or actor type) can name a log file: no separators, no leading dot."""
    return bool(_SAFE_NAME.match(name))


# One encoder: json.dumps with options builds a new one per call, which was most of the cost.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def as_dict(record: list[Any]) -> dict[str, Any]:
    """A record as a JSON object named by RECORD_FIELDS (unknown kinds keep their values under `fields`)."""
    names = RECORD_FIELDS.get(str(record[0]) if record else "")
    if names is None or len(names) != len(record):
        return {"kind": record[0] if record else None, "fields": record[1:]}
    return dict(zip(names, record, strict=True))


def valid(record: Any) -> bool:
    names = RECORD_FIELDS.get(record[0]) if isinstance(record, list) and record and isinstance(record[0], str) else None
    return names is not None and len(names) == len(record)


@dataclass(frozen=True)
class Source:
    """Which file to read: a function's (`functions`) or an actor type's (`actors`)."""

    kind: str  # "functions" | "actors"
    name: str


class LogStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, source: Source) -> Path:
        return self.root / source.kind / f"{source.name}.jsonl"

    def append(self, records: Iterable[list[Any]]) -> None:
        """File each record under its function and (invocations, actor output) its type.
        Raises OSError when the directory cannot be written (the runtime reports it once)."""
        lines: dict[tuple[str, str], list[str]] = {}
        for record in records:
            if not valid(record):
                continue
            line = _encode(record)
            kind = record[0]
            if kind != "call" and safe_name(str(record[2])):
                lines.setdefault(("functions", str(record[2])), []).append(line)
            if kind != "request" and record[3] and safe_name(str(record[3])):
                lines.setdefault(("actors", str(record[3])), []).append(line)
        for (kind, name), chunk in lines.items():
            path = self.path(Source(kind, name))
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8", errors="surrogatepass") as f:
                f.write("\n".join(chunk) + "\n")
                size = f.tell()
            if size > MAX_FILE_BYTES:
                os.replace(path, path.with_name(path.name + ".1"))

    def read(self, source: Source) -> Iterator[list[Any]]:
        """Every stored record of `source`, oldest first (the rotated file, then the current one)."""
        path = self.path(source)
        for candidate in (path.with_name(path.name + ".1"), path):
            try:
                with open(candidate, encoding="utf-8", errors="surrogatepass") as f:
                    for line in f:
                        record = _parse(line)
                        if record is not None:
                            yield record
            except FileNotFoundError:
                continue

    def names(self, kind: str) -> list[str]:
        """The names with a log file of `kind` ("functions" | "actors"), sorted."""
        try:
            files = [p.name for p in (self.root / kind).iterdir()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        stems = {n.removesuffix(".1").removesuffix(".jsonl") for n in files if n.endswith((".jsonl", ".jsonl.1"))}
        return sorted(n for n in stems if safe_name(n))

    def follow(self, source: Source) -> Follower:
        """A reader positioned at the current end of `source`'s file, for `--tail`."""
        return Follower(self.path(source))


class Follower:
    """Reads what is appended to one log file after it was created; survives rotation (the
    file replaced) and a file that does not exist yet."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._inode, self._offset = self._stat()

    def _stat(self) -> tuple[int, int]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return 0, 0
        return st.st_ino, st.st_size

    def poll(self) -> list[list[Any]]:
        """Records appended since the last poll (whole lines only), oldest first."""
        inode, size = self._stat()
        if inode != self._inode or size < self._offset:  # rotated or replaced: the new file from its start
            self._inode, self._offset = inode, 0
        if size <= self._offset:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read(size - self._offset)
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self._offset += end
        out = []
        for line in data[:end].decode("utf-8", errors="surrogatepass").splitlines():
            record = _parse(line)
            if record is not None:
                out.append(record)
        return out


def _parse(line: str) -> list[Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if valid(record) else None


# -- reading, as `logs` and `actors logs` do (spec 1.8, 1.11) ----------------------------------

DEFAULT_SINCE_S = 3600
MAX_SINCE_S = 24 * 3600
DEFAULT_LAST = 50
MAX_LAST = 250

INVOCATION_KINDS = frozenset({"request", "call"})
RUNTIME_KINDS = frozenset({"console"})


@dataclass(frozen=True)
class Query:
    """What to read. `since_s`, `last` are already clamped (see `clamp`); `kinds` from --type;
    `instance` keeps one actor's records (actors logs --instance)."""

    source: Source
    since_s: int = DEFAULT_SINCE_S
    last: int = DEFAULT_LAST
    kinds: frozenset[str] = INVOCATION_KINDS | RUNTIME_KINDS
    instance: str | None = None

    def matches(self, record: list[Any], now_ms: float) -> bool:
        if record[0] not in self.kinds or record[1] < now_ms - self.since_s * 1000:
            return False
        if self.source.kind == "actors" and record[3] != self.source.name:
            return False  # a function's console line outside the type (never filed here, but cheap to check)
        return self.instance is None or (record[0] in ("call", "console") and record[4] == self.instance)


def clamp(since_s: int, last: int) -> tuple[int, int, list[str]]:
    """The spec's limits, clamped rather than refused: (since_s, last, what was clamped)."""
    notes = []
    if since_s > MAX_SINCE_S:
        notes.append("--since is at most 24h: showing the last 24h")
        since_s = MAX_SINCE_S
    if last > MAX_LAST:
        notes.append(f"-n/--last is at most {MAX_LAST}: showing {MAX_LAST} lines")
        last = MAX_LAST
    return since_s, max(1, last), notes


def read_last(store: LogStore, query: Query, now_ms: float) -> list[list[Any]]:
    """The last `query.last` matching records, oldest first."""
    # Stored in completion order (a request after the output it caused); shown by timestamp.
    out = [record for record in store.read(query.source) if query.matches(record, now_ms)]
    out.sort(key=lambda record: record[1])
    return out[-query.last:]


_DURATION = re.compile(r"^(\d+)(s|m|h|d)$", re.ASCII)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_HUGE = 10**18  # any count longer than this is as good as "everything" (and `clamp` bounds it)


def parse_duration(text: str) -> int | None:
    """`10m`, `1h`, `30s`, `2d` -> seconds; None when it is not one of those. A count of any
    length is a duration (`100000d`, `99999999999999999999d`): `clamp` bounds it."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    digits = match.group(1).lstrip("0") or "0"
    return (int(digits) if len(digits) <= 18 else _HUGE) * _UNIT_S[match.group(2)]


def follow(store: LogStore, query: Query, poll_s: float = 0.2) -> Iterator[list[list[Any]]]:
    """Yield each new batch of matching records as it is stored, forever (`--tail`); an empty
    batch every `poll_s` with nothing new, so the caller can stop. The first yield comes once the
    reader is positioned: what is stored after that is seen."""
    import time

    follower = store.follow(query.source)
    yield []
    while True:
        time.sleep(poll_s)
        yield [r for r in follower.poll() if query.matches(r, time.time() * 1000)]
