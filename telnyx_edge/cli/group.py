"""The one error mapping of the command line, and the group class every (sub)command uses.

Here rather than in `cli.app`: command modules import `new_group` while `cli.app` imports the
command modules, so the two cannot live in one module without an import cycle.

Errors from the `EdgeError` hierarchy become a one-line `❌` message (plus a `💡` hint) and the
error's exit code in `EdgeGroup.invoke`; the argument parser's own usage errors get the same two
lines in `report_usage` (called from `cli.app.main`). Nowhere else.
"""

from __future__ import annotations

import re
import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from telnyx_edge import console
from telnyx_edge.errors import ConfigError, EdgeError, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"]}
INTERNAL_ERROR_EXIT = 70

_debug = False
_verbose = False


def set_debug(flag: bool) -> None:
    global _debug
    _debug = flag


def set_verbose_flag(flag: bool) -> None:
    """Whether -v/--verbose itself was given (console's verbose also follows --debug)."""
    global _verbose
    _verbose = flag


def verbose_flag() -> bool:
    return _verbose


class EdgeGroup(TyperGroup):
    """A command group that maps our errors to messages and exit codes."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except EdgeError as exc:
            report(exc)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # the parser's usage errors are reported by cli.app.main, exits pass through
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
    """Print `exc` as `❌ message`, its problems or details indented, then `💡 hint`."""
    if _debug:
        traceback.print_exception(exc)
    if isinstance(exc, ConfigError) and exc.problems:
        console.error(exc.message)
        for problem in exc.problems:
            console.detail(problem)
        if exc.hint:
            console.err.print(f"💡 {console.one_line(exc.hint)}", markup=False)
        return
    console.error(exc.message, exc.hint)
    for detail in getattr(exc, "details", []):
        console.detail(detail)


def report_usage(message: str, command_path: str | None) -> int:
    """A usage error of the argument parser (unknown flag, bad value, missing argument) in our
    format; returns the usage exit code."""
    where = f"{command_path} -h" if command_path else "telnyx-edge -h"
    hint = f"Run '{where}' to see the flags and arguments it takes."
    negative = re.match(r"No such option: (-(?:\d|\.\d))", message)
    if negative:
        # A negative number as an argument (`storage put T N KEY -5`) reads as a flag.
        hint = f"A value that starts with '-' goes after '--', once the flags are given: ... -- {negative.group(1)}"
    console.error(message.rstrip("."), hint=hint)
    return UsageError.exit_code


def new_group(help: str) -> typer.Typer:
    """A sub-app (e.g. `revisions`, `actors`) with the same error mapping and -h."""
    return typer.Typer(
        cls=EdgeGroup, help=help, context_settings=CONTEXT, no_args_is_help=True,
        pretty_exceptions_enable=False, add_completion=False,
    )
