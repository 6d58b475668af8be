"""`telnyx-edge dev`: run a telnyx.toml project locally with hot reload."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer



def register(app: typer.Typer) -> None:
    app.command("dev", help="Run the project locally: actors, storage and alarms, with hot reload on save.")(dev)


def dev(
    from_dir: Optional[Path] = typer.Option(None, "-f", "--from-dir", help="Project directory (default: the current one)."),
    port: int = typer.Option(8787, "--port", min=0, max=65535, help="Port to serve on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (127.0.0.1 keeps it local)."),
    state: Optional[Path] = typer.Option(None, "--state", help="Directory for actor state (default: .telnyx/dev/state)."),
    no_watch: bool = typer.Option(False, "--no-watch", help="Do not watch sources for changes."),
    with_projects: list[Path] = typer.Option(
        [], "--with", help="Also run this project (repeatable), at its own host name; resolves shared actor types.",
    ),
    env_file: Optional[Path] = typer.Option(
        None, "--env-file", help="A dotenv file whose values override secrets and [env_vars] for this run only.",
    ),
    method_timeout_ms: Optional[int] = typer.Option(
        None, "--method-timeout-ms", envvar="TELNYX_EDGE_METHOD_TIMEOUT_MS", min=100,
        help="Wall-clock budget of one actor call (default 30000).",
    ),
    workers: Optional[int] = typer.Option(
        None, "--workers", envvar="TELNYX_EDGE_WORKERS", min=1, max=64,
        help="Worker threads per function (default: one per CPU); actors are spread over them by name.",
    ),
) -> None:
    from telnyx_edge.cli.runtime_cmd import ensure_with_spinner
    from telnyx_edge.cli.runtime_cmd import ensure_bundler
    from telnyx_edge.cli.runtime_output import alarm_retry_delay_s, report
    from telnyx_edge.runtime.devserver import DevOptions, limits_from_env, run

    project = (from_dir.expanduser() if from_dir else Path.cwd()).resolve()
    ensure_bundler(project)
    options = DevOptions(
        project=project, host=host, port=port, state_dir=state, watch=not no_watch,
        with_projects=tuple(p.expanduser() for p in with_projects),
        limits=limits_from_env(method_timeout_ms, workers),
        alarm_retry_delay_s=alarm_retry_delay_s(), packages_dir=ensure_with_spinner(),
        env_file=env_file.expanduser().resolve() if env_file else None,
    )
    run(options, report)
