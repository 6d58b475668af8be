"""`telnyx-edge ship [-f DIR]` and `telnyx-edge ship status NAME|ID`.

`ship` is a group whose callback ships when no subcommand is given, so both
`ship -f DIR` and `ship status NAME` parse (and `-h` works on each).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from telnyx_edge import console
from telnyx_edge.cli.group import CONTEXT, EdgeGroup
from telnyx_edge.cli.params import path_value

if TYPE_CHECKING:
    from telnyx_edge.account import FunctionRecord
    from telnyx_edge.ship import ShipResult


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        cls=EdgeGroup, invoke_without_command=True, no_args_is_help=False, context_settings=CONTEXT,
        pretty_exceptions_enable=False, add_completion=False, rich_markup_mode=None,
        help="Bundle the function in a directory and deploy it as a new revision (or: ship status NAME).",
    )
    group.callback()(ship)
    group.command("status", help="One line on a function's deploy state: status, serving revision, URL.")(status)
    app.add_typer(group, name="ship")


def ship(
    ctx: typer.Context,
    from_dir: Path = typer.Option(Path("."), "-f", "--from-dir", parser=path_value, help="Path to the function directory (relative, absolute, or ~/)."),
    timeout: str = typer.Option("5m0s", "-t", "--timeout", help="Deployment timeout as a Go duration above zero (2m, 300s)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Build and check only: write the outputs, touch no account."),
    outdir: Optional[Path] = typer.Option(None, "--outdir", parser=path_value, help="Where to write the bundle, map, metafile and manifest (default .telnyx/build)."),
) -> None:
    """Bundle the function in a directory and deploy it as a new revision."""
    if ctx.invoked_subcommand is not None:
        return
    from telnyx_edge.account import open_account
    from telnyx_edge.cli.runtime_cmd import ensure_bundler
    from telnyx_edge.ship import check_inputs, parse_timeout
    from telnyx_edge.ship import ship as run_ship

    seconds = parse_timeout(timeout)
    directory = from_dir.expanduser()
    check_inputs(directory, outdir.expanduser() if outdir else None)  # before the bundler's one-time install
    ensure_bundler(directory)
    result = run_ship(
        directory, None if dry_run else open_account(), dry_run=dry_run,
        outdir=outdir.expanduser() if outdir else None, timeout=seconds,
    )
    _report(result)


def _report(result: ShipResult) -> None:
    files = result.files
    console.step(f"Collected {len(files)} file{'s' if len(files) != 1 else ''} for shipping")
    for name in files:
        console.verbose(f"   {name}")
    b = result.bundle
    console.step(
        f"Bundled {b.js_path.name}: {b.size:,} bytes ({result.gzip_size:,} bytes gzip) in {b.elapsed_ms:.0f} ms"
    )
    for warning in result.warnings:
        console.warning(warning)
    if result.bindings:
        console.info("")
        console.table(["BINDING", "TYPE", "ROLE"], [[x.binding, x.type, x.role] for x in result.bindings])
        console.info("")
    if result.revision is None or result.record is None:
        console.step(f"Dry run: wrote index.js, index.js.map, meta.json and manifest.json to {result.outdir}")
        console.info("   No account was touched.")
        return
    console.step(f"Created revision {result.revision.id}")
    console.success(f"Func '{result.record.name}' is now deployed!")
    console.info("")
    # Shipping serves nothing by itself: the local edge is `serve` (a running one picks up the
    # new revision on its own), so say how to reach it rather than claim it is live.
    console.info(f"📡 Its URL on the local edge: {result.record.url()}")
    console.info("💡 Serve every shipped function with 'telnyx-edge serve' (a running serve picks up this revision), then:")
    console.info(f"   curl {result.record.url()}")


def status(
    ref: str = typer.Argument(..., metavar="NAME|ID", help="Function name or id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (shape: docs/cli.md, JSON output)."),
) -> None:
    """One actionable line on a function's deploy state."""
    from telnyx_edge.account import open_account
    from telnyx_edge.cli import json_shapes

    record = open_account().resolve(ref)
    if as_json:
        console.json_out(json_shapes.function(record))
        return
    console.info(status_line(record))


def status_line(record: FunctionRecord) -> str:
    from telnyx_edge.account import BUILD_FAILED, CREATED, DEPLOY_OK

    serving = f"revision {record.serving_revision}" if record.serving_revision else None
    if record.status == DEPLOY_OK:
        return f"✅ Func '{record.name}' is deployed (deploy_ok): {serving} serves {record.url()}"
    if record.status == BUILD_FAILED:
        keeps = f"{serving} keeps serving" if serving else "nothing is serving yet"
        return (
            f"❌ Func '{record.name}': the last build failed (build_failed); {keeps}. "
            f"Run 'telnyx-edge ship -f {record.directory}' to see esbuild's errors."
        )
    if record.status == CREATED:
        return f"🆕 Func '{record.name}' has never been shipped (created); run 'telnyx-edge ship -f {record.directory}'."
    return f"⚠️  Func '{record.name}' is {record.status}" + (f"; {serving} serves {record.url()}" if serving else "")
