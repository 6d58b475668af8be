"""`telnyx-edge serve`: the local edge, every shipped function of the account at once."""

from __future__ import annotations

from typing import Optional

import typer



def register(app: typer.Typer) -> None:
    app.command("serve", help="Run every shipped function of the account locally, routed by host name.")(serve)


def serve(
    port: int = typer.Option(8788, "--port", min=0, max=65535, help="Port to serve on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (127.0.0.1 keeps it local)."),
    method_timeout_ms: Optional[int] = typer.Option(
        None, "--method-timeout-ms", envvar="TELNYX_EDGE_METHOD_TIMEOUT_MS", min=100,
        help="Wall-clock budget of one actor call (default 30000).",
    ),
    workers: Optional[int] = typer.Option(
        None, "--workers", envvar="TELNYX_EDGE_WORKERS", min=1, max=64,
        help="Worker threads per function (default: one per CPU); actors are spread over them by name.",
    ),
) -> None:
    from telnyx_edge.account import edge_home
    from telnyx_edge.cli.runtime_cmd import ensure_with_spinner
    from telnyx_edge.cli.runtime_output import alarm_retry_delay_s, report
    from telnyx_edge.runtime.devserver import limits_from_env
    from telnyx_edge.runtime.edge import ServeOptions, run

    options = ServeOptions(
        home=edge_home(), host=host, port=port, limits=limits_from_env(method_timeout_ms, workers),
        alarm_retry_delay_s=alarm_retry_delay_s(), packages_dir=ensure_with_spinner(),
    )
    run(options, report)
