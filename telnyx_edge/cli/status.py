"""`telnyx-edge status`: self-diagnostics of this machine's setup."""

from __future__ import annotations

import typer

from telnyx_edge import console


def register(app: typer.Typer) -> None:
    app.command("status", help="Check the configuration, the account database, Node.js and npm.")(status)


def status() -> None:
    from telnyx_edge.doctor import run_checks

    checks = run_checks()
    console.info("Telnyx Edge CLI Status Check")
    for check in checks:
        console.info(f"{'✅' if check.ok else '❌'} {check.label}: {check.detail}")
    console.info("")
    if all(check.ok for check in checks):
        console.success("All checks passed - CLI is ready to use")
    else:
        console.info("❌ Some checks failed - please review the issues above")
        raise typer.Exit(1)
