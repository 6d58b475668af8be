"""`telnyx-edge runtime install|link`: the runtime's own Node packages, and `@telnyx/edge-runtime` for npm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from telnyx_edge import console
from telnyx_edge.cli.params import inspect_value, path_value, port_value


def register(app: typer.Typer) -> None:
    from telnyx_edge.cli.group import new_group

    group = new_group("The local runtime's own Node packages, installed once per machine.")
    group.command("install", help="Install the runtime's Node packages now (dev, serve and ship do it on first use).")(install)
    group.command(
        "link",
        help="Wire a project's @telnyx/edge-runtime dependency to the runtime's own package, so npm install and tsc work.",
    )(link)
    app.add_typer(group, name="runtime")


def ensure_with_spinner() -> Path:
    """The packages folder; shows a spinner on stderr while a first install runs."""
    from telnyx_edge.runtime import packages

    status = None

    def started(target: Path) -> None:
        nonlocal status
        message = "Installing the runtime's Node packages (once per machine; may take a minute)..."
        if not console.err.is_terminal:
            console.err.print(message, markup=False)  # a log or CI job sees why it waits
            return
        status = console.err.status(message)
        status.start()

    try:
        return packages.ensure(on_install=started)
    finally:
        if status is not None:
            status.stop()


def ensure_bundler(project: Path) -> None:
    """A project without its own esbuild bundles with the toolchain's: show its one-time install."""
    from telnyx_edge.bundle import project_esbuild

    if project_esbuild(project) is None:
        ensure_with_spinner()


def listen_check(host: str) -> None:
    """Refuse a host this machine cannot listen on; warn about one beyond loopback."""
    from telnyx_edge.hosts import check_listen_host, exposure_warning

    if not check_listen_host(host):
        console.warning(exposure_warning(host))


# The options `dev` and `serve` share, one definition each.


def method_timeout_option() -> Any:
    return typer.Option(
        None, "--method-timeout-ms", min=100, max=86_400_000,
        help="Wall-clock budget of one actor call (default: TELNYX_EDGE_METHOD_TIMEOUT_MS, else 30000).",
    )


def inspect_option() -> Any:
    return typer.Option(
        None, "--inspect", parser=inspect_value, metavar="[HOST:]PORT",
        help="--inspect, --inspect=[HOST:]PORT or --inspect [HOST:]PORT: the Node inspector for Chrome DevTools or an editor (default 127.0.0.1:9229); same port across reloads.",
    )


def quiet_option() -> Any:
    return typer.Option(False, "-q", "--quiet", help="No line per request (your code's output and errors are still printed).")


def workers_option() -> Any:
    return typer.Option(
        None, "--workers", min=1, max=64,
        help="Worker threads per function (default: TELNYX_EDGE_WORKERS, else one per CPU); actors are spread over them by name.",
    )


def explorer_port_option() -> Any:
    return typer.Option(
        0, "--explorer-port", parser=port_value, metavar="PORT",
        help="Port of the explorer page on 127.0.0.1 (default 0: a free one; its URL is printed under Ready on).",
    )


def no_explorer_option() -> Any:
    return typer.Option(False, "--no-explorer", help="Do not serve the explorer page and API.")


def start_checks(host: str, inspect: str | None, quiet: bool) -> None:
    """What `dev` and `serve` check and set before starting: the listen address, the inspector
    address, and whether request lines are printed."""
    if quiet:
        from telnyx_edge.cli.log_lines import set_quiet

        set_quiet(True)
    listen_check(host)
    inspect_check(inspect)


def verbosity_check(quiet: bool) -> None:
    """Refuse -q/--quiet with -v/--verbose: fewer lines and more lines at once."""
    from telnyx_edge.cli.group import verbose_flag
    from telnyx_edge.errors import UsageError

    if quiet and verbose_flag():
        raise UsageError(
            "-v/--verbose and -q/--quiet cannot be used together",
            hint="Pass -v for a line per actor call too, or -q for no line per request, not both.",
        )


def inspect_check(inspect: str | None) -> None:
    """Refuse an --inspect host this machine cannot listen on; warn about one beyond loopback,
    where whoever reaches the port can run any code in the runtime."""
    from telnyx_edge.hosts import check_listen_host

    if inspect is None:
        return
    host = inspect.rsplit(":", 1)[0].strip("[]")
    if not check_listen_host(host, "--inspect"):
        console.warning(f"--inspect {inspect} listens beyond this machine: anyone who can reach it can run any code in this runtime")


def install() -> None:
    from telnyx_edge.runtime import packages

    target = ensure_with_spinner()
    console.success(f"Runtime packages ready in {target}")
    for name, version in packages.describe(target).items():
        console.info(f"   {name} {version}")


def link(
    from_dir: Path = typer.Option(Path("."), "-f", "--from-dir", parser=path_value, help="Path to the project directory (with package.json)."),
) -> None:
    from telnyx_edge.runtime.npmlink import PACKAGE, link_project

    ensure_with_spinner()  # Node's types for the linked package come from the runtime's packages
    result = link_project(from_dir.expanduser())
    console.success(f"{PACKAGE} {result.version} (for \"{result.spec}\") linked from {result.folder}")
    if result.lock_updated:
        console.info("   package-lock.json now records the link")
    console.info("💡 Now run: npm install")
