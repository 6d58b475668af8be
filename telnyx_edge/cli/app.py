"""The `telnyx-edge` command line: the root app, global flags, and `main`.

Every command module in `_COMMANDS` exposes `register(app)`. Commands parse and print;
each calls one core function. Errors become messages and exit codes in `cli.group`
(`EdgeGroup.invoke` for ours, `report_usage` for the argument parser's), nowhere else.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from telnyx_edge import __version__, console
from telnyx_edge.cli.group import CONTEXT, INTERNAL_ERROR_EXIT, EdgeGroup, new_group, report, set_debug, set_verbose_flag

__all__ = ["app", "main", "CONTEXT", "INTERNAL_ERROR_EXIT", "EdgeGroup", "new_group", "report"]

_COMMANDS = ["new_func", "functions", "status", "ship", "revisions", "types_cmd", "actors", "dev", "serve", "runtime_cmd", "secrets", "storage", "logs"]

app = typer.Typer(
    cls=EdgeGroup,
    help=f"Telnyx Edge CLI (local toolchain) v{__version__}",
    context_settings=CONTEXT,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        console.info(f"telnyx-edge v{__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Verbose client-side logging."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Scaffold, ship and run Telnyx Edge functions and Stateful Actors locally."""
    set_debug(debug)
    set_verbose_flag(verbose)
    console.set_verbose(verbose or debug)


for _name in _COMMANDS:
    importlib.import_module(f"telnyx_edge.cli.{_name}").register(app)


def _parser_errors() -> Any:
    """The argument parser's exception classes: typer vendors click from 0.2x on."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - an older typer on plain click
        from click import exceptions  # type: ignore[no-redef]
    return exceptions


def _hoist_verbose(argv: list[str]) -> list[str]:
    """`-v/--verbose` works on every command (spec 1.1: "Add -v to any command"), wherever it
    is written: it is moved before the command, where the root takes it. `-q/--quiet` (dev,
    serve) written before the command is moved after it, where the command takes it. A bare
    `--inspect` (dev, serve) means `--inspect=127.0.0.1:9229`, as for node; its value is
    `--inspect=PORT` or `--inspect PORT` (a following option is not taken as its value).
    Nothing after `--` is touched."""
    try:
        end = argv.index("--")
    except ValueError:
        end = len(argv)
    head = _hoist_quiet(_join_inspect(argv[:end]))
    argv = [*head, *argv[end:]]
    flags = [a for a in head if a in ("-v", "--verbose")]
    if not flags or head[:1] == flags[:1] and len(flags) == 1:
        return argv
    return ["-v", *[a for a in head if a not in ("-v", "--verbose")], *argv[end:]]


def _join_inspect(head: list[str]) -> list[str]:
    """`--inspect PORT` as `--inspect=PORT`; a bare `--inspect` (last, or before an option) as
    `--inspect=DEFAULT_INSPECT`. dev and serve take no positional argument, so a word after
    `--inspect` can only be its value (checked by params.inspect_value)."""
    from telnyx_edge.cli.params import DEFAULT_INSPECT

    out: list[str] = []
    i = 0
    while i < len(head):
        if head[i] != "--inspect":
            out.append(head[i])
        elif i + 1 < len(head) and not head[i + 1].startswith("-"):
            out.append(f"--inspect={head[i + 1]}")
            i += 1
        else:
            out.append(f"--inspect={DEFAULT_INSPECT}")
        i += 1
    return out


def _hoist_quiet(head: list[str]) -> list[str]:
    """`-q/--quiet` before the command name (`telnyx-edge -q dev`) moved just after it. The
    root's own options take no value, so the command is the first word not starting with `-`."""
    command = next((i for i, a in enumerate(head) if not a.startswith("-")), None)
    if command is None:
        return head
    before = head[:command]
    quiet = [a for a in before if a in ("-q", "--quiet")]
    if not quiet:
        return head
    return [*(a for a in before if a not in quiet), head[command], *quiet, *head[command + 1:]]


def main() -> None:
    """The console script. The parser runs in non-standalone mode so that its usage errors
    reach `report_usage` (our `❌`/`💡` lines, exit 2) instead of click's `Error: ...`."""
    from telnyx_edge.cli.group import report_usage

    errors = _parser_errors()
    try:
        code = app(args=_hoist_verbose(sys.argv[1:]), prog_name="telnyx-edge", standalone_mode=False)
    except errors.NoArgsIsHelpError as exc:  # a bare group: its help, as before
        exc.show()
        code = exc.exit_code
    except errors.UsageError as exc:
        code = report_usage(exc.format_message(), exc.ctx.command_path if exc.ctx else None)
    except typer.Abort:
        console.error("Aborted: no answer to the prompt", hint="Pass -y/--yes to skip the prompt in scripts.")
        code = 1
    except errors.ClickException as exc:
        console.error(exc.format_message())
        code = exc.exit_code
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
