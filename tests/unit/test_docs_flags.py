"""The usage lines of `dev` and `serve` in docs/ name every flag the command takes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _flags(command: str) -> list[tuple[str, ...]]:
    """The flags of `command` as the argument parser knows them: each one's names (`-f`, `--from-dir`)."""
    import typer.main

    from telnyx_edge.cli.app import app

    cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return [tuple(p.opts) for p in cmd.params if p.opts and p.opts[0].startswith("-")]


def _usage_blocks(text: str, command: str) -> list[str]:
    """Each fenced block that starts with `telnyx-edge COMMAND [`: the usage lines."""
    blocks, current = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is not None:
                blocks.append("\n".join(current))
            current = [] if current is None else None
        elif current is not None:
            current.append(line)
    return [b for b in blocks if b.startswith(f"telnyx-edge {command} [")]


def _named(flag: str, block: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", block) is not None


@pytest.mark.parametrize(("doc", "command"), [
    ("docs/runtime.md", "dev"), ("docs/cli.md", "dev"), ("docs/cli.md", "serve"), ("docs/serve.md", "serve"),
])
def test_usage_line_names_every_flag(doc: str, command: str) -> None:
    blocks = _usage_blocks((ROOT / doc).read_text(encoding="utf-8"), command)
    assert blocks, f"{doc} has no usage block for {command}"
    flags = _flags(command)
    assert {"--workers", "--inspect", "-q"} <= {name for names in flags for name in names}
    for block in blocks:
        missing = [names[-1] for names in flags if not any(_named(n, block) for n in names)]
        assert not missing, f"{doc}: the usage of {command} lacks {missing}"
