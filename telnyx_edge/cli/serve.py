"""`telnyx-edge serve`: the local edge, every shipped function of the account at once."""

from __future__ import annotations

from typing import Optional

import typer

from telnyx_edge.cli.params import host_value, port_value
from telnyx_edge.cli.runtime_cmd import (
    explorer_port_option, inspect_option, method_timeout_option, no_explorer_option, quiet_option, workers_option,
)


def register(app: typer.Typer) -> None:
    app.command("serve", help="Run every shipped function of the account locally, routed by host name.")(serve)


def serve(
    port: int = typer.Option(8788, "--port", parser=port_value, help="Port to serve on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", parser=host_value, help="Interface to bind (127.0.0.1 keeps it local)."),
    method_timeout_ms: Optional[int] = method_timeout_option(),
    inspect: Optional[str] = inspect_option(),
    quiet: bool = quiet_option(),
    workers: Optional[int] = workers_option(),
    explorer_port: int = explorer_port_option(),
    no_explorer: bool = no_explorer_option(),
) -> None:
    from telnyx_edge import settings
    from telnyx_edge.cli.runtime_cmd import ensure_with_spinner, start_checks, verbosity_check
    from telnyx_edge.cli.runtime_output import report
    from telnyx_edge.runtime.devserver import limits_from_env
    from telnyx_edge.runtime.edge import ServeOptions, run

    verbosity_check(quiet)
    config = settings.get()
    start_checks(host, inspect, quiet)
    options = ServeOptions(
        home=config.home, host=host, port=port, limits=limits_from_env(method_timeout_ms, workers),
        alarm_retry_delay_s=config.alarm_retry_delay_s, packages_dir=ensure_with_spinner(), inspect=inspect,
        explorer_port=None if no_explorer else explorer_port,
    )
    run(options, report)
