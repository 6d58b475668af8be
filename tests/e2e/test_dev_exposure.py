"""Design promise 9: `dev` listens on loopback unless told otherwise, and user data reaches the
terminal escaped (a control character in an error message cannot drive the terminal)."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.dev_helpers import close, copy_project, start_dev
from tests.harness import run_cli

pytestmark = pytest.mark.e2e


def _listening_addresses(port: int) -> set[str]:
    """The local addresses with a listening TCP socket on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")
def test_dev_listens_on_loopback_only_by_default(tmp_path: Path, edge_home: Path) -> None:
    server = start_dev(copy_project("lab", tmp_path), "--no-watch")
    try:
        url = urlsplit(server.url)
        assert url.hostname == "127.0.0.1"
        assert url.port is not None
        assert _listening_addresses(url.port) == {"0100007F"}  # 127.0.0.1, and nothing else
    finally:
        assert close(server) == 0


def test_control_characters_in_user_data_are_escaped_on_the_terminal(tmp_path: Path, edge_home: Path) -> None:
    project = copy_project("lab", tmp_path)
    source = project / "src" / "lab.ts"
    source.write_text(source.read_text() + '\nthrow new Error("bad \\u001b[31mred\\u0007 end");\n')
    result = run_cli("dev", "--port", "0", "--no-watch", cwd=project, timeout=60)
    assert result.returncode == 10, result.stdout + result.stderr
    assert "\x1b" not in result.stdout + result.stderr and "\x07" not in result.stdout + result.stderr
    assert result.stderr.splitlines()[-2].startswith(
        "❌ the code threw while loading: Error: bad \\x1b[31mred\\x07 end (at "
    )
