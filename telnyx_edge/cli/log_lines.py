"""Log records (runtime/logstore.py) as lines: the live lines `dev` and `serve` print, and the
lines of `telnyx-edge logs` / `actors logs` (spec 1.8, 1.11). User data (paths, names, output)
is escaped before it reaches a terminal (console.printable)."""

from __future__ import annotations

import datetime as dt
import re
import sys
from typing import Any, TextIO

from telnyx_edge.console import printable

_TO_STDERR = {"warn", "error"}
_LINE_START = re.compile(r"\n(?![ \t])")


def _continued(text: str) -> str:
    """User text over several lines: every line after the first is indented (lines already
    indented, like a stack's frames, keep theirs), so output can never start a line at column 0
    and pass for a request or error line of the runtime."""
    return _LINE_START.sub("\n    ", str(text))


def _clock(ts_ms: float) -> str:
    """Local time of day with milliseconds: what a developer matches against their terminal."""
    return dt.datetime.fromtimestamp(ts_ms / 1000).strftime("%H:%M:%S.%f")[:-3]


def iso(ts_ms: float) -> str:
    """UTC ISO 8601 with milliseconds, as `logs` prints it."""
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _ms(value: Any) -> str:
    return f"{float(value):.1f}ms" if float(value) < 10 else f"{float(value):.0f}ms"


def actor_label(type_: str, name: str) -> str:
    return f"{type_}:{name}"


def live_line(record: list[Any], verbose: bool) -> tuple[str, bool] | None:
    """The `dev`/`serve` line of a record and whether it goes to stderr; None when not shown
    (invocations without -v)."""
    kind = record[0]
    if kind == "request":
        _, ts, fn, method, path, status, ms = record
        return f"[{_clock(ts)}] {fn} {method} {path} {status} {_ms(ms)}", int(status) >= 500
    if kind == "call":
        if not verbose:
            return None
        _, ts, fn, type_, name, method, outcome, ms = record
        return f"[{_clock(ts)}] {fn} {actor_label(type_, name)} {method} {outcome} {_ms(ms)}", outcome != "ok"
    if kind == "console":
        _, ts, fn, type_, name, level, text = record
        who = f"{fn} {actor_label(type_, name)}" if type_ else str(fn)
        return f"[{_clock(ts)}] {who} [{level}] {_continued(text)}", level in _TO_STDERR
    return None


LIVE_LINES_PER_S = 200
"""Request and call lines printed per second at most; output and errors are always printed. Past
it (a load test), a terminal only scrolls, and writing to it costs the runtime CPU (or stalls it,
on a slow terminal): one line per second says how many were left out (`logs` has every one)."""


class _Window:
    second = 0
    shown = 0
    skipped = 0


_window = _Window()
_quiet = False


def set_quiet(flag: bool) -> None:
    """`dev -q` / `serve -q`: no request or call lines; output and errors are still printed."""
    global _quiet
    _quiet = flag


def _summary(second: int, skipped: int) -> str:
    return f"[{_clock(second * 1000)}] ... {skipped} more request/call lines in that second not shown (telnyx-edge logs NAME has them)"


def write_live(records: list[list[Any]], verbose: bool, out: TextIO | None = None, err: TextIO | None = None) -> None:
    """Print a batch: each stream gets one write of whole lines, so nothing interleaves mid-line."""
    outs: list[str] = []
    errs: list[str] = []
    w = _window
    for record in records:
        if (record[0] == "call" and not verbose) or (_quiet and record[0] != "console"):
            continue
        if record[0] != "console":
            second = int(record[1] // 1000)
            if second > w.second:
                if w.skipped:
                    outs.append(_summary(w.second, w.skipped))
                w.second, w.shown, w.skipped = second, 0, 0
            if w.shown >= LIVE_LINES_PER_S:
                w.skipped += 1
                continue
            w.shown += 1
        line = live_line(record, verbose)
        if line is not None:
            (errs if line[1] else outs).append(printable(line[0]))
    for lines, stream in ((outs, out or sys.stdout), (errs, err or sys.stderr)):
        if lines:
            stream.write("\n".join(lines) + "\n")
            stream.flush()


def function_line(record: list[Any]) -> tuple[str, bool]:
    """A line of `logs NAME`: invocations `[ts] METHOD path status <ms>ms`, runtime lines
    `[ts] [level] message` (an actor's output prefixed with Type:name). Second: to stderr (a warning)."""
    if record[0] == "request":
        _, ts, _fn, method, path, status, ms = record
        return printable(f"[{iso(ts)}] {method} {path} {status} {_ms(ms)}"), False
    return _runtime_line(record, with_actor=True)


def actor_line(record: list[Any]) -> tuple[str, bool]:
    """A line of `actors logs TYPE` (spec 1.11): invocations `[ts] instance method outcome <ms>ms`,
    runtime lines `[ts] [level] message`."""
    if record[0] == "call":
        _, ts, _fn, _type, name, method, outcome, ms = record
        return printable(f"[{iso(ts)}] {name} {method} {outcome} {_ms(ms)}"), False
    return _runtime_line(record, with_actor=False, instance=True)


def _runtime_line(record: list[Any], with_actor: bool, instance: bool = False) -> tuple[str, bool]:
    _, ts, _fn, type_, name, level, text = record
    who = f"{actor_label(type_, name)}: " if with_actor and type_ else f"{name}: " if instance and name else ""
    return printable(f"[{iso(ts)}] [{level}] {who}{_continued(text)}"), level in _TO_STDERR
