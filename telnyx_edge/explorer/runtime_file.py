"""Where a running explorer says it is, so the CLI can find it: one small JSON file per state
directory under `$TELNYX_EDGE_HOME/run/`, written once the explorer listens and removed when it
stops. A file left by a runtime that was killed is recognised as stale (its process is gone, or
its explorer answers for another state directory) and never trusted."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunningExplorer:
    url: str
    pid: int
    state_dir: str


def run_dir(home: Path) -> Path:
    return home / "run"


def file_for(home: Path, state_dir: Path) -> Path:
    digest = hashlib.sha256(str(state_dir.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return run_dir(home) / f"explorer-{digest}.json"


def write(home: Path, state_dir: Path, url: str) -> Path:
    """Record the explorer of the runtime on `state_dir` (written whole, then renamed)."""
    path = file_for(home, state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid(), "state_dir": str(state_dir.resolve())}))
    os.replace(tmp, path)
    return path


def remove(path: Path) -> None:
    """Remove our own file (not one a newer runtime on the same state wrote since)."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find(home: Path, state_dir: Path) -> RunningExplorer | None:
    """The explorer of the runtime running on `state_dir`, or None. The caller still checks
    that it answers (`/api/health`) for that state directory before trusting it."""
    path = file_for(home, state_dir)
    try:
        data = json.loads(path.read_text())
        found = RunningExplorer(str(data["url"]), int(data["pid"]), str(data["state_dir"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if found.state_dir != str(state_dir.resolve()) or not _alive(found.pid):
        return None
    return found
