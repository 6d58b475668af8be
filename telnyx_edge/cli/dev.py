"""`telnyx-edge dev`: run a telnyx.toml project locally with hot reload."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from telnyx_edge import console


def register(app: typer.Typer) -> None:
    app.command("dev", help="Run the project locally: actors, storage and alarms, with hot reload on save.")(dev)


def dev(
    from_dir: Optional[Path] = typer.Option(None, "-f", "--from-dir", help="Project directory (default: the current one)."),
    port: int = typer.Option(8787, "--port", help="Port to serve on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (127.0.0.1 keeps it local)."),
    state: Optional[Path] = typer.Option(None, "--state", help="Directory for actor state (default: .telnyx/dev/state)."),
    no_watch: bool = typer.Option(False, "--no-watch", help="Do not watch sources for changes."),
    with_projects: list[Path] = typer.Option(
        [], "--with", help="Also run this project (repeatable), at its own host name; resolves shared actor types.",
    ),
    method_timeout_ms: Optional[int] = typer.Option(
        None, "--method-timeout-ms", envvar="TELNYX_EDGE_METHOD_TIMEOUT_MS", min=100,
        help="Wall-clock budget of one actor call (default 30000).",
    ),
) -> None:
    from telnyx_edge.runtime.devserver import DevOptions, limits_from_env, run

    project = (from_dir.expanduser() if from_dir else Path.cwd()).resolve()
    options = DevOptions(
        project=project, host=host, port=port, state_dir=state, watch=not no_watch,
        with_projects=tuple(p.expanduser() for p in with_projects),
        limits=limits_from_env(method_timeout_ms),
        alarm_retry_delay_s=_retry_delay(),
    )
    run(options, _report)


def _retry_delay() -> float:
    import os

    raw = os.environ.get("TELNYX_EDGE_ALARM_RETRY_DELAY_MS", "")
    return int(raw) / 1000 if raw.isdigit() else 1.0


def _report(event: object) -> None:
    from telnyx_edge.runtime import events

    if isinstance(event, events.Ready):
        # The functions come first: whoever waits for "Ready on" has read them already.
        width = max((len(name) for name, _ in event.functions), default=0)
        for name, url in event.functions:
            console.info(f"  {name.ljust(width)}  {url}")
        console.info(f"Ready on {event.url}")
    elif isinstance(event, events.FunctionReloaded):
        verb = "Added" if event.added else "Reloaded"
        console.info(f"{verb} {event.function} (revision {event.revision}) in {event.elapsed_ms:.0f} ms: {event.url}")
    elif isinstance(event, events.Notice):
        console.warning(event.message)
    elif isinstance(event, events.FunctionRemoved):
        console.info(f"Removed {event.function}: it is no longer deployed")
    elif isinstance(event, events.Reloaded):
        console.info(f"Reloaded {event.function + ' ' if event.function else ''}in {event.elapsed_ms:.0f} ms")
    elif isinstance(event, events.ReloadFailed):
        console.error(f"Reload failed: {event.message}; the previous code keeps serving")
        for detail in event.details:
            console.err.print(f"   {detail}", markup=False)
    elif isinstance(event, events.IsolateReplaced):
        console.warning(f"Isolate replaced: {event.reason}")
    elif isinstance(event, events.Unavailable):
        names = ", ".join(f"{binding} ({kind})" for binding, kind in event.bindings)
        console.warning(f"Not available locally (platform-only bindings): {names}")
    elif isinstance(event, events.Unresolved):
        console.warning(
            f"No function here owns actor type(s) {', '.join(event.types)}: calls to them fail with ActorTypeNotFoundError"
        )
    elif isinstance(event, events.Stopping):
        console.info("Stopping...")
