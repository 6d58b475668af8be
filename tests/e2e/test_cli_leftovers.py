"""Fixes from a second fresh user's pass: -v with -q, -q before the command, `--inspect PORT`,
a huge `--since`, `logs` of an unknown name, node's inspector banner, and thrown non-Errors.
Each runs the real program (and, where it matters, a real `dev`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dev_helpers import close, start_dev
from tests.harness import run_cli, start_server

pytestmark = pytest.mark.e2e


def _one_error(result: Any, code: int, says: str) -> None:
    stderr = result.stderr
    assert result.returncode == code, stderr
    assert "Internal error" not in stderr and "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("❌")]
    assert len(errors) == 1 and says in errors[0], stderr


# -- -v and -q ---------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("dev", "-v", "-q"), ("-v", "serve", "--quiet"), ("-q", "dev", "--verbose"), ("serve", "-q", "-v"),
])
def test_verbose_and_quiet_together_are_refused(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run_cli(*args, cwd=tmp_path, env={"TELNYX_EDGE_HOME": str(tmp_path / "home")})
    _one_error(result, 2, "-v/--verbose and -q/--quiet cannot be used together")
    assert not (tmp_path / "home").exists()


def test_quiet_before_the_command_is_taken_by_dev(copy_fixture: Any, edge_home: Path) -> None:
    server = start_server(["-q", "dev", "--port", "0", "--no-watch", "--workers", "1"], cwd=copy_fixture("observe"))
    try:
        assert httpx.get(f"{server.url}/hello/dave").status_code == 200
        server.wait_for(r"Counter:dave \[log\] hello world #1")
    finally:
        close(server)
    assert "GET /hello/dave" not in server.output, server.output


# -- --inspect PORT ----------------------------------------------------------------------------

def test_a_bad_inspect_value_after_a_space_is_named(tmp_path: Path) -> None:
    result = run_cli("dev", "--inspect", "nine", "--port", "0", cwd=tmp_path, env={"TELNYX_EDGE_HOME": str(tmp_path / "home")})
    _one_error(result, 2, "'nine' is not [HOST:]PORT")
    assert "--inspect" in result.stderr


# -- logs: a huge --since ---------------------------------------------------------------------

def _logged_home(tmp_path: Path) -> dict[str, str]:
    """A home with one function's and one type's log file: a request and a call two hours old."""
    import json
    import time

    home = tmp_path / "home"
    ts = (time.time() - 2 * 3600) * 1000
    for kind, name, record in (
        ("functions", "shop", ["request", ts, "shop", "GET", "/old", 200, 3.0]),
        ("actors", "Cart", ["call", ts, "shop", "Cart", "alice", "add", "ok", 2.0]),
    ):
        (home / "logs" / kind).mkdir(parents=True, exist_ok=True)
        (home / "logs" / kind / f"{name}.jsonl").write_text(json.dumps(record) + "\n")
    return {"TELNYX_EDGE_HOME": str(home)}


@pytest.mark.parametrize("since", ["100000d", "99999999999999999999d", "9999999999999999999999999999999999999999s"])
def test_a_huge_since_is_clamped_not_refused(tmp_path: Path, since: str) -> None:
    env = _logged_home(tmp_path)
    result = run_cli("logs", "shop", "--since", since, env=env)
    assert result.returncode == 0, result.stderr
    assert "GET /old 200" in result.stdout
    assert result.stderr == "⚠️  --since is at most 24h: showing the last 24h\n"
    actors = run_cli("actors", "logs", "Cart", "--since", since, env=env)
    assert actors.returncode == 0 and "] alice add ok 2.0ms" in actors.stdout, actors.stderr


def test_a_huge_since_with_nothing_in_the_window_names_the_clamped_window(tmp_path: Path) -> None:
    env = _logged_home(tmp_path)
    result = run_cli("logs", "shop", "--since", "100000d", "--type", "runtime", env=env)
    assert result.returncode == 0 and result.stdout == ""
    assert "No log lines for function shop in the last 24h." in result.stderr


@pytest.mark.parametrize("since", ["1e9d", "10", "-5m", "5x", "99999999999999999999"])
def test_a_since_that_is_not_a_duration_is_refused(tmp_path: Path, since: str) -> None:
    _one_error(run_cli("logs", "shop", "--since", since, env=_logged_home(tmp_path)), 2, "is not a duration")


# -- logs: unknown names ------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "says"), [
    (("logs", "shpo"), "No logs of function 'shpo' on this machine, and the account has no function of that name; functions with logs: shop"),
    (("actors", "logs", "cart"), "No logs of actor type 'cart' on this machine, and the account has no actor type of that name; actor types with logs: Cart"),
])
def test_logs_of_an_unknown_name_are_refused_naming_the_known_ones(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    env = _logged_home(tmp_path)
    _one_error(run_cli(*args, env=env), 7, says)
    assert not (tmp_path / "home" / "account.db").exists()  # nothing written


def test_logs_of_a_function_on_the_account_that_never_ran_is_not_an_error(tmp_path: Path) -> None:
    env = {"TELNYX_EDGE_HOME": str(tmp_path / "home")}
    assert run_cli("new-func", "--actor", "--name=quiet", "--no-install", cwd=tmp_path, env=env).returncode == 0
    result = run_cli("logs", "quiet", env=env)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    assert "No log lines for function quiet in the last 1h." in result.stderr
    none = run_cli("logs", "nope", env=env)
    _one_error(none, 7, "no function has logs on this machine yet")


# -- a thrown non-Error ------------------------------------------------------------------------

THROWN = {
    "string": 'non-Error value thrown: "boom"',
    "object": "non-Error value thrown: { code: 1 }",
    "number": "non-Error value thrown: 42",
    "nothing": "non-Error value thrown: undefined",
}


def test_a_thrown_non_error_says_what_was_thrown(copy_fixture: Any, edge_home: Path) -> None:
    import re

    server = start_dev(copy_fixture("throwers"), "--no-watch", "--workers", "1", "--no-explorer")
    try:
        with httpx.Client(base_url=server.url) as client:
            for method, message in THROWN.items():
                seen = client.get(f"/{method}").json()
                assert seen == {
                    "isError": True, "name": "ActorMethodError", "message": message,
                    "stack": f"ActorMethodError: {message}", "text": f"ActorMethodError: {message}",
                    "userStack": f"ActorMethodError: {message}",
                }, (method, seen)
                server.wait_for(rf"Thrower:t \[error\] {method}\(\) threw: Error: {re.escape(message)}$")
            # An Error keeps its message and its frame.
            real = client.get("/error").json()
            assert real["message"] == "a real one" and re.search(r"at Thrower\.error \(.*src/index\.ts:\d+:\d+\)", real["userStack"])
            # The fetch handler's own throw: the 500's body and the line say what was thrown too.
            fetched = client.get("/fetch")
            assert (fetched.status_code, fetched.text) == (500, 'Error: non-Error value thrown: "fetch boom"\n')
            server.wait_for(r'throwers \[error\] fetch GET /fetch threw: Error: non-Error value thrown: "fetch boom"$')
    finally:
        close(server)
    stored = run_cli("actors", "logs", "Thrower", "--type", "runtime")
    assert stored.returncode == 0, stored.stderr
    for method, message in THROWN.items():
        assert f"[error] t: {method}() threw: Error: {message}" in stored.stdout + stored.stderr, stored
