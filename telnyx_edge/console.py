"""The one place output is shaped: a stdout and a stderr rich Console and the few ways we print."""

from __future__ import annotations

import os
import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Control characters (ESC, BEL, CR, C1 controls) in a message would let user data (an error
# message, a name, a path) drive the terminal: they are shown escaped. Tabs and newlines stay.
# Lone surrogates (an actor name from JavaScript may hold one) cannot even be encoded: escaped too.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with every control character but tab and newline shown as a \\xNN escape (and a
    lone surrogate as \\uNNNN)."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


class _Console(Console):
    """A rich Console that escapes control characters in every string it is given."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(printable(o) if isinstance(o, str) else o for o in objects), **kwargs)


# Width is fixed when not on a terminal so that piped output (and the tests) are stable.
_columns = os.environ.get("COLUMNS", "").strip()
# A terminal convention rather than a telnyx-edge setting: a value that is not a width is ignored.
_width = None if os.isatty(1) else int(_columns) if _columns.isdigit() and 0 < int(_columns) < 100_000 else 120
# emoji=False: a `:name:` in user data (an actor name, a key) is shown as typed, not as an emoji.
out = _Console(highlight=False, soft_wrap=True, width=_width, emoji=False)
err = _Console(stderr=True, highlight=False, soft_wrap=True, width=_width, emoji=False)

_verbose = False


def set_verbose(flag: bool) -> None:
    global _verbose
    _verbose = flag


def is_verbose() -> bool:
    return _verbose


def verbose(message: str) -> None:
    """Client-side detail shown only with -v/--verbose (to stderr, so stdout stays parseable)."""
    if _verbose:
        err.print(f"[dim]{message}[/dim]", markup=True)


# success, step, warning and error print one status line each: user data in them (a name, a
# path, an argument) has every control character escaped, newlines and tabs too (`one_line`), so
# it can neither drive the terminal nor forge a line of its own. `info` keeps newlines (JSON,
# values); a command that puts user data in an info line passes it through `one_line`.


def success(message: str) -> None:
    out.print(f"✅ {one_line(message)}", markup=False)


def step(message: str) -> None:
    out.print(f"✓ {one_line(message)}", markup=False)


def info(message: str) -> None:
    out.print(message, markup=False)


def warning(message: str) -> None:
    err.print(f"⚠️  {one_line(message)}", markup=False)


def error(message: str, hint: str | None = None) -> None:
    err.print(f"❌ {one_line(message)}", markup=False)
    if hint:
        err.print(f"💡 {one_line(hint)}", markup=False)


def detail(text: str) -> None:
    """Indented lines under an error (a problem, an esbuild message), escaped like it; a text
    of several lines (a tool's raw output) stays several lines, each indented."""
    for line in text.splitlines() or [""]:
        err.print(f"   {one_line(line)}", markup=False)


def table(columns: list[str], rows: list[list[str]]) -> None:
    """A plain fixed-column table: header, a row of dashes, then rows (scripts split on 2+ spaces)."""
    grid = Table(box=None, show_header=True, header_style="bold", pad_edge=False, padding=(0, 2, 0, 0))
    for column in columns:
        grid.add_column(column, no_wrap=True)
    grid.add_row(*["-" * max(3, len(c)) for c in columns])
    for row in rows:
        # Text, not markup: cells hold user data (actor names), shown exactly and escaped.
        grid.add_row(*[Text(one_line(cell)) for cell in row])
    # Into a pipe the table keeps its natural width: every column, every character (a terminal
    # narrower than the table gets it cut to fit, for reading).
    if out.is_terminal:
        out.print(grid)
        return
    import sys

    wide = Console(file=sys.stdout, highlight=False, soft_wrap=True, width=1_000_000, emoji=False, color_system=None)
    wide.print(grid)


def json_out(data: object) -> None:
    """`data` as indented JSON on stdout, for scripts: written as is (no markup, no emoji codes;
    control characters are JSON escapes)."""
    import json
    import sys

    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=True) + "\n")
    sys.stdout.flush()



def timestamp(ms: int) -> str:
    """UTC date and time of `ms` since the epoch; a value no calendar date can show is shown as ms."""
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return f"{ms} ms"


def one_line(text: str) -> str:
    """`printable(text)`, and also tab, newline, line/paragraph separators and invisible format
    characters (bidi overrides, zero-width) escaped: a table cell holding user data stays one
    cell on one line and reads in its real order."""
    out = printable(text)
    if out.isprintable():
        return out
    import unicodedata

    return "".join(
        c if c.isprintable() else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") or c in "\t\n" else c
        for c in out
    )
