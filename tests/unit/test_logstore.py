"""The log store (runtime/logstore.py), the lines of `logs` (cli/log_lines.py) and the flag
parsers of issue 14 (-v anywhere, --inspect values)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import typer

from telnyx_edge.cli.app import _hoist_verbose
from telnyx_edge.cli.log_lines import actor_line, function_line, write_live
from telnyx_edge.cli.params import inspect_value
from telnyx_edge.runtime import logstore
from telnyx_edge.runtime.logstore import LogStore, Query, Source

NOW = 1_800_000_000_000


def _request(ts: int, path: str = "/a", fn: str = "lab") -> list[object]:
    return ["request", ts, fn, "GET", path, 200, 1.5]


def test_records_are_filed_by_function_and_type_and_read_oldest_first(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    store.append([
        _request(NOW - 10, "/second"),
        ["console", NOW - 20, "lab", "Counter", "alice", "log", "hi"],
        ["call", NOW - 30, "lab", "Counter", "bob", "inc", "ok", 2.0],
        ["console", NOW - 40, "lab", "", "", "warn", "top"],
        ["bogus", 1],  # not a record: skipped
        _request(NOW, "/x", fn="../escape"),  # not a safe name: not stored
    ])
    assert sorted(p.name for p in (tmp_path / "functions").iterdir()) == ["lab.jsonl"]
    fn = logstore.read_last(store, Query(Source("functions", "lab")), NOW)
    assert [r[0] for r in fn] == ["console", "console", "request"]  # by time, the call is the type's
    actors = logstore.read_last(store, Query(Source("actors", "Counter"), instance="bob"), NOW)
    assert actors == [["call", NOW - 30, "lab", "Counter", "bob", "inc", "ok", 2.0]]
    runtime = Query(Source("functions", "lab"), kinds=logstore.RUNTIME_KINDS, last=1)
    assert logstore.read_last(store, runtime, NOW)[0][6] == "hi"
    old = Query(Source("functions", "lab"), since_s=0)
    assert logstore.read_last(store, old, NOW) == []


def test_since_and_last(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    store.append([_request(NOW - 7200_000, "/old"), *[_request(NOW - i, f"/{i}") for i in range(5, 0, -1)]])
    got = logstore.read_last(store, Query(Source("functions", "lab"), since_s=3600, last=2), NOW)
    assert [r[4] for r in got] == ["/2", "/1"]
    assert logstore.clamp(3 * 86400, 1000) == (86400, 250, ["--since is at most 24h: showing the last 24h", "-n/--last is at most 250: showing 250 lines"])
    assert logstore.parse_duration("10m") == 600 and logstore.parse_duration("1h") == 3600
    assert logstore.parse_duration("10") is None and logstore.parse_duration("-1m") is None
    # A huge count is a duration, clamped to the limit rather than refused (spec 1.8)
    assert logstore.parse_duration("100000d") == 100000 * 86400
    huge = logstore.parse_duration("9" * 40 + "d")
    assert huge is not None and logstore.clamp(huge, 50)[0] == 86400
    assert logstore.parse_duration("1e9d") is None and logstore.parse_duration("١٢d") is None


def test_a_file_past_its_bound_rotates_and_both_halves_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logstore, "MAX_FILE_BYTES", 200)
    store = LogStore(tmp_path)
    for i in range(20):
        store.append([_request(NOW - 100 + i, f"/{i}")])
    files = sorted(p.name for p in (tmp_path / "functions").iterdir())
    assert files in (["lab.jsonl", "lab.jsonl.1"], ["lab.jsonl.1"])
    assert all(p.stat().st_size <= 200 + 100 for p in (tmp_path / "functions").iterdir())
    got = logstore.read_last(store, Query(Source("functions", "lab"), last=250), NOW)
    assert 2 <= len(got) < 20
    assert [r[4] for r in got] == [f"/{i}" for i in range(20)][-len(got):]  # the newest, in order
    assert store.names("functions") == ["lab"]  # one name, whether its file rotated or not


def test_names_are_those_with_a_log_file(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    assert store.names("functions") == [] and store.names("actors") == []
    (tmp_path / "functions").mkdir()
    for name in ("b.jsonl", "a.jsonl.1", "a.jsonl", "notes.txt", ".hidden.jsonl"):
        (tmp_path / "functions" / name).write_text("")
    assert store.names("functions") == ["a", "b"]


def test_follower_sees_appends_and_a_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LogStore(tmp_path)
    follower = store.follow(Source("functions", "lab"))  # before the file exists
    assert follower.poll() == []
    store.append([_request(NOW, "/1")])
    assert [r[4] for r in follower.poll()] == ["/1"]
    path = store.path(Source("functions", "lab"))
    with open(path, "a") as f:
        f.write(json.dumps(_request(NOW, "/half"))[:10])  # half a line: not read yet
    assert follower.poll() == []
    monkeypatch.setattr(logstore, "MAX_FILE_BYTES", 1)
    store.append([_request(NOW, "/2")])  # rotated right after: the file is gone
    monkeypatch.setattr(logstore, "MAX_FILE_BYTES", 4096)
    store.append([_request(NOW, "/3")])  # a new file: read from its start
    assert [r[4] for r in follower.poll()] == ["/3"]


def test_lines_escape_user_data() -> None:
    line, warn = function_line(["console", NOW, "lab", "Counter", "a\x1b[31m", "warn", "bell\x07"])
    assert "\x1b" not in line and "\x07" not in line and warn
    assert function_line(_request(NOW, "/p\x1b"))[0].endswith("GET /p\\x1b 200 1.5ms")
    assert actor_line(["call", NOW, "lab", "Counter", "bob", "inc", "ActorMethodError", 12.3])[0].endswith("] bob inc ActorMethodError 12ms")
    out, err = io.StringIO(), io.StringIO()
    write_live([_request(NOW), ["call", NOW, "lab", "C", "n", "m", "ok", 1], ["console", NOW, "lab", "C", "n", "error", "x\ny"]], False, out, err)
    assert out.getvalue().count("\n") == 1 and " lab GET /a 200 1.5ms" in out.getvalue()
    assert err.getvalue().endswith(" lab C:n [error] x\n    y\n")  # the second line cannot pass for a runtime line


def test_verbose_anywhere_and_inspect_values() -> None:
    assert _hoist_verbose(["dev", "-v", "--port", "0"]) == ["-v", "dev", "--port", "0"]
    assert _hoist_verbose(["-v", "dev"]) == ["-v", "dev"]
    assert _hoist_verbose(["dev", "--", "-v"]) == ["dev", "--", "-v"]
    assert _hoist_verbose(["dev", "--inspect", "-v"]) == ["-v", "dev", "--inspect=127.0.0.1:9229"]
    assert _hoist_verbose(["serve", "--inspect=9230"]) == ["serve", "--inspect=9230"]


def test_inspect_takes_its_value_after_a_space_or_an_equals_sign() -> None:
    assert _hoist_verbose(["dev", "--inspect", "9230"]) == ["dev", "--inspect=9230"]
    assert _hoist_verbose(["serve", "--inspect", "0.0.0.0:0", "-q"]) == ["serve", "--inspect=0.0.0.0:0", "-q"]
    assert _hoist_verbose(["dev", "--inspect", "--port", "0"]) == ["dev", "--inspect=127.0.0.1:9229", "--port", "0"]
    assert _hoist_verbose(["dev", "--inspect"]) == ["dev", "--inspect=127.0.0.1:9229"]
    assert _hoist_verbose(["dev", "--inspect", "--", "9230"]) == ["dev", "--inspect=127.0.0.1:9229", "--", "9230"]


def test_quiet_before_the_command_goes_to_the_command() -> None:
    assert _hoist_verbose(["-q", "dev", "--port", "0"]) == ["dev", "-q", "--port", "0"]
    assert _hoist_verbose(["--debug", "--quiet", "serve"]) == ["--debug", "serve", "--quiet"]
    assert _hoist_verbose(["-q", "-v", "dev"]) == ["-v", "dev", "-q"]
    assert _hoist_verbose(["dev", "-q"]) == ["dev", "-q"]
    assert _hoist_verbose(["-q"]) == ["-q"]
    assert inspect_value("9230") == "127.0.0.1:9230"
    assert inspect_value("0.0.0.0:0") == "0.0.0.0:0"
    for bad in ("", "x", "127.0.0.1:99999", "host:"):
        with pytest.raises(typer.BadParameter):
            inspect_value(bad)


def test_live_request_lines_are_capped_per_second_but_output_never() -> None:
    from telnyx_edge.cli import log_lines

    out, err = io.StringIO(), io.StringIO()
    second = NOW + 10_000_000  # a second no other test used
    flood = [_request(second + i % 1000) for i in range(log_lines.LIVE_LINES_PER_S + 50)]
    flood.append(["console", second + 5, "lab", "", "", "log", "still shown"])
    log_lines.write_live(flood, False, out, err)
    assert out.getvalue().count(" GET /a ") == log_lines.LIVE_LINES_PER_S
    assert "still shown" in out.getvalue()
    log_lines.write_live([_request(second + 1000)], False, out, err)  # the next second
    assert "... 50 more request/call lines in that second not shown" in out.getvalue()
    assert out.getvalue().rstrip().endswith(" lab GET /a 200 1.5ms")


def test_quiet_leaves_out_request_lines_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from telnyx_edge.cli import log_lines

    monkeypatch.setattr(log_lines, "_quiet", True)
    out, err = io.StringIO(), io.StringIO()
    log_lines.write_live([_request(NOW), ["console", NOW, "lab", "", "", "log", "kept"]], True, out, err)
    assert "GET" not in out.getvalue() and "kept" in out.getvalue()


def test_user_output_over_several_lines_cannot_pass_for_a_runtime_line() -> None:
    """A newline in console output or an error message indents what follows: no line of user text
    starts at column 0, where the runtime's request and error lines start."""
    from telnyx_edge.cli.log_lines import function_line, live_line

    forged = "ok\n[04:00:00.000] lab GET /admin 200 1ms\n[04:00:00.001] lab [error] fake\n    at f (src/a.ts:1:1)"
    line = live_line(["console", 0, "lab", "", "", "log", forged], verbose=False)
    assert line is not None
    rest = line[0].split("\n")[1:]
    assert rest and all(l.startswith("    ") for l in rest), line
    assert "\n    at f (src/a.ts:1:1)" in line[0]  # frames keep their own indentation
    logged, to_stderr = function_line(["console", 0, "lab", "", "", "error", forged])
    assert all(l.startswith("    ") for l in logged.split("\n")[1:]) and to_stderr
