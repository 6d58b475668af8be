"""The `telnyx-edge` command line: the root app, global flags, and the one error mapping.

Every command module in `_COMMANDS` exposes `register(app)`. Commands parse and print;
each calls one core function. Errors from the `EdgeError` hierarchy become a one-line
message (plus a hint) and the error's exit code in `EdgeGroup.invoke`, nowhere else.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from telnyx_edge import __version__, console
from telnyx_edge.errors import ConfigError, EdgeError

CONTEXT = {"help_option_names": ["-h", "--help"]}
INTERNAL_ERROR_EXIT = 70

_COMMANDS = ["new_func", "functions", "status", "ship", "revisions", "types_cmd", "actors", "dev", "serve", "runtime_cmd", "secrets", "storage"]

_debug = False


class EdgeGroup(TyperGroup):
    """A command group that maps our errors to messages and exit codes."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except EdgeError as exc:
            report(exc)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # usage errors and exits keep typer's own handling
        except KeyboardInterrupt:
            console.error("Interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if _debug:
                traceback.print_exc()
            console.error(
                f"Internal error: {type(exc).__name__}: {exc}",
                hint="This is a bug in telnyx-edge; run again with --debug for a traceback and report it.",
            )
            raise typer.Exit(INTERNAL_ERROR_EXIT) from None


def report(exc: EdgeError) -> None:
    if _debug:
        traceback.print_exception(exc)
    if isinstance(exc, ConfigError) and exc.problems:
        console.error(exc.message)
        for problem in exc.problems:
            console.err.print(f"   {problem}", markup=False)
        if exc.hint:
            console.err.print(f"💡 {exc.hint}", markup=False)
        return
    console.error(exc.message, exc.hint)
    for detail in getattr(exc, "details", []):
        console.err.print(f"   {detail}", markup=False)


def new_group(help: str) -> typer.Typer:
    """A sub-app (e.g. `revisions`, `actors`) with the same error mapping and -h."""
    return typer.Typer(
        cls=EdgeGroup, help=help, context_settings=CONTEXT, no_args_is_help=True,
        pretty_exceptions_enable=False, add_completion=False,
    )


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
    global _debug
    _debug = debug
    console.set_verbose(verbose or debug)


for _name in _COMMANDS:
    importlib.import_module(f"telnyx_edge.cli.{_name}").register(app)


def main() -> None:
    app(prog_name="telnyx-edge")


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
