"""`telnyx-edge dev`: run a telnyx.toml project locally with hot reload."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Optional

import typer

from telnyx_edge import console
from telnyx_edge.cli.params import host_value, path_value, port_value
from telnyx_edge.cli.runtime_cmd import (
    explorer_port_option, inspect_option, method_timeout_option, no_explorer_option, quiet_option, workers_option,
)


def register(app: typer.Typer) -> None:
    app.command("dev", help="Run the project locally: actors, storage and alarms, with hot reload on save.")(dev)


def dev(
    from_dir: Optional[Path] = typer.Option(None, "-f", "--from-dir", parser=path_value, help="Project directory (default: the current one)."),
    port: int = typer.Option(8787, "--port", parser=port_value, help="Port to serve on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", parser=host_value, help="Interface to bind (127.0.0.1 keeps it local)."),
    state: Optional[Path] = typer.Option(None, "--state", parser=path_value, help="Directory for actor state (default: .telnyx/dev/state)."),
    no_watch: bool = typer.Option(False, "--no-watch", help="Do not watch sources for changes."),
    with_projects: list[Path] = typer.Option(
        [], "--with", parser=path_value, help="Also run this project (repeatable), at its own host name; resolves shared actor types.",
    ),
    env_file: Optional[Path] = typer.Option(
        None, "--env-file", parser=path_value, help="A dotenv file whose values override secrets and [env_vars] for this run only.",
    ),
    method_timeout_ms: Optional[int] = method_timeout_option(),
    inspect: Optional[str] = inspect_option(),
    quiet: bool = quiet_option(),
    workers: Optional[int] = workers_option(),
    explorer_port: int = explorer_port_option(),
    no_explorer: bool = no_explorer_option(),
) -> None:
    from telnyx_edge import settings
    from telnyx_edge.cli.runtime_cmd import ensure_bundler, ensure_with_spinner, start_checks, verbosity_check
    from telnyx_edge.cli.runtime_output import report
    from telnyx_edge.devcheck import check_dev_paths
    from telnyx_edge.runtime.devserver import DevOptions, limits_from_env, run

    verbosity_check(quiet)
    config = settings.get()
    project = (from_dir.expanduser() if from_dir else Path.cwd()).resolve()
    extra = tuple(p.expanduser() for p in with_projects)
    local_names = check_dev_paths(project, state, extra, env_file)
    start_checks(host, inspect, quiet)
    ensure_bundler(project)
    options = DevOptions(
        project=project, host=host, port=port, state_dir=state, watch=not no_watch,
        with_projects=extra,
        limits=limits_from_env(method_timeout_ms, workers),
        alarm_retry_delay_s=config.alarm_retry_delay_s, packages_dir=ensure_with_spinner(),
        env_file=env_file.expanduser().resolve() if env_file else None, inspect=inspect,
        explorer_port=None if no_explorer else explorer_port,
    )
    run(options, _announce_account_owners(local_names, report))


def _announce_account_owners(local: set[str], report: Callable[[object], None]) -> Callable[[object], None]:
    """A reporter that, before `Ready on`, names every function dev runs from the account (the
    owner of a type only referenced here) rather than from a local project's source."""
    from telnyx_edge.runtime import events

    def announce(event: object) -> None:
        if isinstance(event, events.Ready):
            for name, _url in event.functions:
                if name not in local:
                    console.info(_shipped_owner_line(name))
        report(event)

    return announce


def _shipped_owner_line(name: str) -> str:
    from telnyx_edge.account import open_account

    account = open_account()
    record = account.find(name)
    types = sorted(t for t, owner in account.owners().items() if record is not None and owner.id == record.id)
    what = f"actor type{'s' if len(types) != 1 else ''} {', '.join(types)}" if types else "the referenced actor types"
    revision = f"revision {record.serving_revision}" if record and record.serving_revision else "its serving revision"
    return (
        f"ℹ️  {what}: served by '{name}' as shipped on the account ({revision}), not from its source; "
        "to run its source (with reload), add --with DIR"
    )
