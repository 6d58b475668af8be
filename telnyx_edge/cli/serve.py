"""`telnyx-edge serve`: the local edge, every shipped function of the account at once."""

from __future__ import annotations

from typing import Optional

import typer

from telnyx_edge.cli.params import host_value, inspect_value, port_value


def register(app: typer.Typer) -> None:
    app.command("serve", help="Run every shipped function of the account locally, routed by host name.")(serve)


def serve(
    port: int = typer.Option(8788, "--port", parser=port_value, help="Port to serve on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", parser=host_value, help="Interface to bind (127.0.0.1 keeps it local)."),
    method_timeout_ms: Optional[int] = typer.Option(
        None, "--method-timeout-ms", min=100, max=86_400_000,
        help="Wall-clock budget of one actor call (default: TELNYX_EDGE_METHOD_TIMEOUT_MS, else 30000).",
    ),
    inspect: Optional[str] = typer.Option(
        None, "--inspect", parser=inspect_value, metavar="[HOST:]PORT",
        help="--inspect or --inspect=[HOST:]PORT: the Node inspector for Chrome DevTools or an editor (default 127.0.0.1:9229); same port across reloads.",
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No line per request (your code's output and errors are still printed)."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1, max=64,
        help="Worker threads per function (default: TELNYX_EDGE_WORKERS, else one per CPU); actors are spread over them by name.",
    ),
) -> None:
    from telnyx_edge import settings
    from telnyx_edge.cli.runtime_cmd import ensure_with_spinner, inspect_check, listen_check
    from telnyx_edge.cli.runtime_output import report
    from telnyx_edge.runtime.devserver import limits_from_env
    from telnyx_edge.runtime.edge import ServeOptions, run

    config = settings.get()
    if quiet:
        from telnyx_edge.cli.log_lines import set_quiet

        set_quiet(True)
    listen_check(host)
    inspect_check(inspect)
    options = ServeOptions(
        home=config.home, host=host, port=port, limits=limits_from_env(method_timeout_ms or config.method_timeout_ms, workers or config.workers),
        alarm_retry_delay_s=config.alarm_retry_delay_s, packages_dir=ensure_with_spinner(), inspect=inspect,
    )
    run(options, report)
