"""`telnyx-edge logs NAME` and `telnyx-edge actors logs TYPE` (spec 1.8, 1.11): what `dev` and
`serve` recorded on this machine (runtime/logstore.py), oldest line first; `--tail` streams."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import typer

from telnyx_edge import console

if TYPE_CHECKING:
    from telnyx_edge.runtime.logstore import LogStore

_TYPES = {"runtime": "console", "invocations": "invocations"}


def register(app: typer.Typer) -> None:
    app.command("logs", help="Read a function's request lines and output recorded by dev and serve (oldest first).")(logs)


def logs(
    name: str = typer.Argument(..., help="Function name."),
    since: str = typer.Option("1h", "--since", help="How far back: 30s, 10m, 1h (at most 24h)."),
    last: int = typer.Option(50, "-n", "--last", min=1, help="How many lines at most (at most 250)."),
    as_json: bool = typer.Option(False, "--json", help="JSON: {\"data\": [...]} (with --tail, one object per line)."),
    kind: Optional[str] = typer.Option(None, "--type", help="runtime (output) or invocations (requests); default both."),
    tail: bool = typer.Option(False, "--tail", help="Keep streaming new lines until Ctrl-C."),
) -> None:
    from telnyx_edge.cli.log_lines import function_line

    _show("functions", name, since, last, as_json, kind, tail, None, function_line)


def actor_logs(
    type_: str = typer.Argument(..., metavar="TYPE", help="Actor type."),
    instance: Optional[str] = typer.Option(None, "--instance", help="Only this actor (its name)."),
    since: str = typer.Option("1h", "--since", help="How far back: 30s, 10m, 1h (at most 24h)."),
    last: int = typer.Option(50, "-n", "--last", min=1, help="How many lines at most (at most 250)."),
    as_json: bool = typer.Option(False, "--json", help="JSON: {\"data\": [...]} (with --tail, one object per line)."),
    kind: Optional[str] = typer.Option(None, "--type", help="runtime (output) or invocations (calls); default both."),
    tail: bool = typer.Option(False, "--tail", help="Keep streaming new lines until Ctrl-C."),
) -> None:
    from telnyx_edge.cli.log_lines import actor_line

    _show("actors", type_, since, last, as_json, kind, tail, instance, actor_line)


def _show(
    where: str, name: str, since: str, last: int, as_json: bool, kind: str | None, tail: bool,
    instance: str | None, line_of: Callable[[list[Any]], tuple[str, bool]],
) -> None:
    from telnyx_edge import settings
    from telnyx_edge.errors import UsageError
    from telnyx_edge.runtime import logstore

    what = "function" if where == "functions" else "actor type"
    if not logstore.safe_name(name):
        raise UsageError(f"{console.printable(repr(name))} is not a {what} name", hint="Pass the name as in telnyx.toml.")
    since_s = logstore.parse_duration(since)
    if since_s is None:
        raise UsageError(f"--since {console.printable(repr(since))} is not a duration", hint="Use a number and s, m, h or d: 30s, 10m, 1h.")
    if kind is not None and kind not in _TYPES:
        raise UsageError(f"--type {console.printable(repr(kind))} is not runtime or invocations", hint="Pass --type runtime or --type invocations.")
    asked_s = since_s
    since_s, last, notes = logstore.clamp(since_s, last)
    window = since if since_s == asked_s else f"{since_s // 3600}h"
    for note in notes:
        console.warning(note)
    kinds = (
        logstore.RUNTIME_KINDS if kind == "runtime" else logstore.INVOCATION_KINDS if kind == "invocations"
        else logstore.RUNTIME_KINDS | logstore.INVOCATION_KINDS
    )
    home = settings.get().home
    store = logstore.LogStore(home / "logs")
    if not tail:
        _check_known(where, name, store, home)
    query = logstore.Query(logstore.Source(where, name), since_s, last, kinds, instance)
    stream = logstore.follow(store, query) if tail else None
    if stream is not None:
        next(stream)  # positioned at the end before the last lines are read: nothing falls between
    records = logstore.read_last(store, query, time.time() * 1000)
    if as_json and not tail:
        console.out.print_json(json.dumps({"data": [logstore.as_dict(r) for r in records]}))
        return
    _print(records, as_json, line_of)
    if stream is None:
        if not records:
            console.err.print(f"No log lines for {what} {console.printable(name)} in the last {window}.", markup=False)
        return
    console.err.print(f"Streaming new lines of {what} {console.printable(name)} (Ctrl-C to stop)...", markup=False)
    try:
        for batch in stream:
            _print(batch, as_json, line_of)
    except KeyboardInterrupt:
        pass


def _check_known(where: str, name: str, store: LogStore, home: Path) -> None:
    """Refuse a name with no log file that the account does not know either (a typo, most
    likely), naming the ones that have logs. `--tail` is not checked: it may wait for a
    function's first line."""
    from telnyx_edge.errors import AccountError

    known = store.names(where)
    if name in known or _on_account(where, name, home):
        return
    what = "function" if where == "functions" else "actor type"
    shown = ", ".join(console.printable(n) for n in known[:10]) + (f" (and {len(known) - 10} more)" if len(known) > 10 else "")
    have = f"{what}s with logs: {shown}" if known else f"no {what} has logs on this machine yet"
    raise AccountError(
        f"No logs of {what} {console.printable(repr(name))} on this machine, and the account has no {what} of that name; {have}",
        hint="Check the name (case-sensitive); dev and serve record the logs read here once the code runs.",
    )


def _on_account(where: str, name: str, home: Path) -> bool:
    """Whether the account has a function (or an owned actor type) called `name`; never
    creates an account that does not exist."""
    from telnyx_edge.account import open_account
    from telnyx_edge.account.local import DB_NAME

    if not (home / DB_NAME).is_file():
        return False
    account = open_account(home)
    if where == "functions":
        return any(record.name == name for record in account.functions())
    return name in account.owners()


def _print(records: list[list[Any]], as_json: bool, line_of: Callable[[list[Any]], tuple[str, bool]]) -> None:
    from telnyx_edge.runtime import logstore

    for record in records:
        if as_json:
            sys.stdout.write(json.dumps(logstore.as_dict(record), ensure_ascii=False) + "\n")
        else:
            text, warn = line_of(record)
            (sys.stderr if warn else sys.stdout).write(text + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
