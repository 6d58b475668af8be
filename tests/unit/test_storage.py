"""The storage engine against a real SQLite file, with a real event loop and writer thread."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from telnyx_edge.errors import RuntimeStartError
from telnyx_edge.runtime.storage import (
    ConsumeAlarm,
    Delete,
    DeleteAlarm,
    DeleteAll,
    Put,
    SetAlarm,
    StorageEngine,
    StorageError,
)
from tests.harness import ROOT

T = TypeVar("T")
A = ("Counter", "alice")
B = ("Counter", "bob")


def with_engine(path: Path, body: Callable[[StorageEngine], Awaitable[T]]) -> T:
    """Run `body` against a started engine on a fresh loop; always stop the engine."""

    async def main() -> T:
        engine = StorageEngine(path)
        await engine.start()
        try:
            return await body(engine)
        finally:
            await engine.stop()

    return asyncio.run(main())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "actors.db"


def test_commit_then_read_and_parent_dirs_created(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        await engine.commit(A, [Put("count", b"\x01"), Put("name", b"alice")])
        assert engine.get(A, "count") == b"\x01"
        assert engine.get(A, "missing") is None
        assert engine.get(B, "count") is None  # actors are isolated from each other
        assert engine.get(A, "__telnyx_meta") is None  # reserved: never stored, readable as absent

    with_engine(db, body)
    assert db.exists()


def test_writes_apply_in_order_within_a_commit(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        await engine.commit(A, [Put("k", b"1"), Put("k", b"2"), Delete("gone"), Put("gone", b"x")])
        assert engine.get(A, "k") == b"2"
        assert engine.get(A, "gone") == b"x"
        await engine.commit(A, [Put("a", b"1"), DeleteAll(), Put("b", b"2")])
        assert engine.list(A) == [("b", b"2")]
        await engine.commit(A, [Put("c", b"3"), Delete("c")])
        assert engine.get(A, "c") is None

    with_engine(db, body)


def test_a_commit_is_all_or_nothing(db: Path) -> None:
    """A failing commit leaves none of its writes; it fails only its own caller."""

    async def body(engine: StorageEngine) -> None:
        await engine.commit(A, [Put("seed", b"s")])
        # A trigger makes the 500th write of one commit fail inside the transaction, while
        # other commits of the same group-commit batch must still succeed.
        assert engine._wconn is not None
        trigger = (
            "CREATE TEMP TRIGGER boom BEFORE INSERT ON kv WHEN NEW.key = CAST('poison' AS BLOB) "
            "BEGIN SELECT RAISE(ABORT, 'poisoned write'); END"
        )
        engine._wconn.execute(trigger)
        big = [Put(f"k{i:04}", b"v") for i in range(499)] + [Put("poison", b"x")]
        good = [engine.commit(("Counter", f"n{i}"), [Put("k", b"ok")]) for i in range(20)]
        results = await asyncio.gather(engine.commit(A, big), *good, return_exceptions=True)
        assert isinstance(results[0], StorageError)
        assert "poisoned write" in str(results[0])
        assert results[1:] == [None] * 20
        assert engine.list(A, limit=1000) == [("seed", b"s")]
        assert all(engine.get(("Counter", f"n{i}"), "k") == b"ok" for i in range(20))
        # The poisoned batch was retried one commit at a time.
        assert engine.stats.failed_batches >= 1

    with_engine(db, body)


def test_many_writes_become_visible_together(db: Path) -> None:
    """A reader polling during a large commit sees either none or all of its keys."""

    async def body(engine: StorageEngine) -> list[int]:
        seen: list[int] = []
        done = False

        def poll() -> None:
            while not done:
                seen.append(len(engine.list(A, prefix="row", limit=1000)))

        poller = asyncio.get_running_loop().run_in_executor(None, poll)
        for round_ in range(5):
            await engine.commit(A, [Put(f"row{i:03}", bytes([round_])) for i in range(1000)])
            await engine.commit(A, [DeleteAll()])
        done = True
        await poller
        return seen

    seen = with_engine(db, body)
    assert seen and set(seen) <= {0, 1000}


def test_delete_all_keeps_the_alarm(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        await engine.commit(A, [Put("a", b"1"), SetAlarm(5_000)])
        await engine.commit(A, [DeleteAll()])
        assert engine.list(A) == []
        assert engine.get_alarm(A) == 5_000
        await engine.commit(A, [DeleteAlarm()])
        assert engine.get_alarm(A) is None

    with_engine(db, body)


def test_alarm_set_replace_consume(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        assert engine.get_alarm(A) is None
        await engine.commit(A, [SetAlarm(1_000)])
        await engine.commit(A, [SetAlarm(2_000)])  # one alarm per actor: replaced
        assert engine.get_alarm(A) == 2_000
        await engine.commit(A, [ConsumeAlarm(1_000)])  # not the alarm that fired: kept
        assert engine.get_alarm(A) == 2_000
        await engine.commit(A, [Put("x", b"1"), ConsumeAlarm(2_000)])
        assert engine.get_alarm(A) is None
        # A handler that re-armed keeps its new alarm, even at the very same time.
        await engine.commit(A, [SetAlarm(3_000)])
        await engine.commit(A, [SetAlarm(9_000), ConsumeAlarm(3_000)])
        assert engine.get_alarm(A) == 9_000
        await engine.commit(A, [SetAlarm(9_000), ConsumeAlarm(9_000)])
        assert engine.get_alarm(A) == 9_000

    with_engine(db, body)


KEYS = ["", "a", "a/", "a/1", "a/2", "a/3", "ab", "b", "b/1", "é", "\uffff", "\U0001f600"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, KEYS),
        ({"limit": 3}, KEYS[:3]),
        ({"reverse": True}, KEYS[::-1]),
        ({"reverse": True, "limit": 2}, ["\U0001f600", "\uffff"]),
        ({"prefix": "a/"}, ["a/", "a/1", "a/2", "a/3"]),
        ({"prefix": "a"}, ["a", "a/", "a/1", "a/2", "a/3", "ab"]),
        ({"prefix": "a/", "reverse": True, "limit": 2}, ["a/3", "a/2"]),
        ({"prefix": "zz"}, []),
        ({"prefix": ""}, KEYS),
        ({"start": "a/2"}, ["a/2", "a/3", "ab", "b", "b/1", "é", "\uffff", "\U0001f600"]),
        ({"start_after": "a/2"}, ["a/3", "ab", "b", "b/1", "é", "\uffff", "\U0001f600"]),
        ({"end": "a/2"}, ["", "a", "a/", "a/1"]),
        ({"start": "a/1", "end": "a/3"}, ["a/1", "a/2"]),
        ({"start_after": "a/1", "end": "b"}, ["a/2", "a/3", "ab"]),
        ({"start": "a/1", "end": "b", "reverse": True}, ["ab", "a/3", "a/2", "a/1"]),
        ({"start": "a/1", "end": "b", "reverse": True, "limit": 1}, ["ab"]),
        ({"prefix": "a/", "start": "a/2"}, ["a/2", "a/3"]),
        ({"prefix": "a/", "start_after": "a/2"}, ["a/3"]),
        ({"prefix": "a/", "end": "a/3"}, ["a/", "a/1", "a/2"]),
        ({"prefix": "a", "start": "0", "end": "z"}, ["a", "a/", "a/1", "a/2", "a/3", "ab"]),
        ({"start": "b", "end": "a"}, []),
        ({"start": "é"}, ["é", "\uffff", "\U0001f600"]),
        ({"prefix": "\uffff"}, ["\uffff"]),
    ],
)
def test_list_options(db: Path, options: dict[str, object], expected: list[str]) -> None:
    async def body(engine: StorageEngine) -> list[str]:
        await engine.commit(A, [Put(k, k.encode()) for k in reversed(KEYS)])
        await engine.commit(B, [Put("a/0", b"other actor")])
        result = engine.list(A, **options)  # type: ignore[arg-type]
        assert all(v == k.encode() for k, v in result)
        return [k for k, _ in result]

    assert with_engine(db, body) == expected


@pytest.mark.parametrize(
    "options",
    [
        {"limit": 0},
        {"limit": -1},
        {"limit": 1001},
        {"limit": 1.5},
        {"limit": True},
        {"start": "a", "start_after": "b"},
        {"prefix": 3},
        {"reverse": "yes"},
    ],
)
def test_list_rejects_nonsense(db: Path, options: dict[str, object]) -> None:
    async def body(engine: StorageEngine) -> None:
        with pytest.raises(ValueError):
            engine.list(A, **options)  # type: ignore[arg-type]

    with_engine(db, body)


def test_commit_rejects_bad_input_before_any_io(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        bad: list[tuple[object, list[object]]] = [
            (A, [Put("__telnyx_meta", b"x")]),
            (A, [Delete("__telnyx_meta")]),
            (A, [Put("k", "not bytes")]),  # type: ignore[arg-type]
            (A, [Put(3, b"x")]),  # type: ignore[arg-type]
            (A, [SetAlarm("soon")]),  # type: ignore[arg-type]
            (A, ["not a write"]),
            (("Counter",), [Put("k", b"x")]),
            (("Counter", ""), [Put("k", b"x")]),
        ]
        for actor, writes in bad:
            with pytest.raises(ValueError):
                await engine.commit(actor, writes)  # type: ignore[arg-type]
        assert engine.stats.transactions == 0
        await engine.commit(A, [])  # empty: resolves without a transaction
        assert engine.stats.transactions == 0
        assert engine.actor_types() == []

    with_engine(db, body)


def test_group_commit_batches_concurrent_commits(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        async def one(i: int) -> None:
            await asyncio.sleep(0)
            await engine.commit(("Counter", f"n{i}"), [Put("k", i.to_bytes(4, "big"))])

        await asyncio.gather(*(one(i) for i in range(200)))
        stats = engine.stats
        assert stats.commits == 200
        assert stats.transactions <= 20, stats
        assert all(engine.get(("Counter", f"n{i}"), "k") == i.to_bytes(4, "big") for i in range(200))

    with_engine(db, body)


def test_durable_across_close_and_reopen(db: Path) -> None:
    async def write(engine: StorageEngine) -> None:
        await asyncio.gather(*(engine.commit(("T", f"n{i}"), [Put("v", bytes([i]))]) for i in range(50)))
        await engine.commit(A, [Put("x", b"y"), SetAlarm(42)])

    async def read(engine: StorageEngine) -> None:
        assert all(engine.get(("T", f"n{i}"), "v") == bytes([i]) for i in range(50))
        assert engine.get(A, "x") == b"y"
        assert engine.get_alarm(A) == 42
        assert engine.actor_types() == ["Counter", "T"]

    with_engine(db, write)
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    with_engine(db, read)


def test_instances_never_show_values(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        await engine.commit(A, [Put("a", b"1"), SetAlarm(7)])
        await asyncio.sleep(0.002)  # distinct activity timestamps (ms)
        await engine.commit(B, [Put("a", b"12345"), Put("b", b"678")])
        await engine.commit(("Other", "x"), [Put("a", b"1")])
        infos = engine.instances("Counter")  # newest activity first, not by name
        assert [(i.name, i.key_count, i.value_bytes, i.alarm_ms) for i in infos] == [
            ("bob", 2, 8, None),
            ("alice", 1, 1, 7),
        ]
        assert infos[0].last_activity_ms >= infos[1].last_activity_ms
        assert engine.key_names(B) == ["a", "b"]
        assert len(engine.instances("Counter", limit=1)) == 1

    with_engine(db, body)


def test_lifecycle_errors(db: Path, tmp_path: Path) -> None:
    async def main() -> None:
        engine = StorageEngine(db)
        with pytest.raises(StorageError):
            await engine.commit(A, [Put("k", b"v")])
        await engine.start()
        stopping = [asyncio.ensure_future(engine.stop()) for _ in range(3)]
        await asyncio.gather(*stopping)
        await engine.stop()
        with pytest.raises(StorageError):
            await engine.commit(A, [Put("k", b"v")])
        with pytest.raises(StorageError):
            engine.get(A, "k")

        not_a_db = tmp_path / "junk.db"
        not_a_db.write_bytes(b"this is not sqlite" * 100)
        with pytest.raises(RuntimeStartError, match="cannot open actor storage"):
            await StorageEngine(not_a_db).start()

    asyncio.run(main())


def test_stop_finishes_queued_commits(db: Path) -> None:
    async def main() -> None:
        engine = StorageEngine(db)
        await engine.start()
        pending = [
            asyncio.ensure_future(engine.commit(("T", f"n{i}"), [Put("k", b"v")])) for i in range(100)
        ]
        await asyncio.sleep(0)  # let every commit enqueue
        await engine.stop()
        assert all(f.done() and f.exception() is None for f in pending)

    asyncio.run(main())
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 100
    conn.close()


_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from telnyx_edge.runtime.storage import Put, StorageEngine

    async def worker(engine, w):
        i = 0
        while True:
            key = f"w{w}-{i}"
            await engine.commit(("Crash", f"w{w}"), [Put(key, key.encode()), Put("last", key.encode())])
            print(key, flush=True)
            i += 1

    async def main():
        engine = StorageEngine(Path(sys.argv[1]))
        await engine.start()
        print("ready", flush=True)
        await asyncio.gather(*(worker(engine, w) for w in range(8)))

    asyncio.run(main())
    """
)


def test_acknowledged_commits_survive_sigkill(db: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    acked: list[str] = []
    try:
        assert child.stdout.readline().strip() == "ready"
        while len(acked) < 400:
            line = child.stdout.readline()
            assert line, "the committing child exited early"
            acked.append(line.strip())
    finally:
        child.send_signal(signal.SIGKILL)
        rest = child.stdout.read()  # acknowledged before the kill, still in the pipe
        child.wait()
        child.stdout.close()
    acked.extend(rest.split())

    async def check(engine: StorageEngine) -> None:
        for key in acked:
            worker = key.split("-")[0]
            assert engine.get(("Crash", worker), key) == key.encode(), key

    with_engine(db, check)


def test_one_runtime_per_state_file(db: Path) -> None:
    async def main() -> None:
        first = StorageEngine(db)
        await first.start()
        with pytest.raises(RuntimeStartError, match=rf"in use by another .* \(pid {os.getpid()}\)"):
            await StorageEngine(db).start()
        await first.stop()
        second = StorageEngine(db)  # the lock went with the first engine
        await second.start()
        await second.stop()

    asyncio.run(main())


def test_read_only_open_beside_a_running_engine(db: Path) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeStartError, match="no actor state"):
            await StorageEngine(db, read_only=True).start()
        engine = StorageEngine(db)
        await engine.start()
        await engine.commit(A, [Put("k", b"v"), SetAlarm(9)])
        viewer = StorageEngine(db, read_only=True)
        await viewer.start()  # no lock taken: the running engine keeps it
        assert viewer.get(A, "k") == b"v"
        await engine.commit(A, [Put("k", b"w")])
        assert viewer.get(A, "k") == b"w"  # sees each new commit
        assert [i.name for i in viewer.instances("Counter")] == ["alice"]
        with pytest.raises(StorageError, match="read-only"):
            await viewer.commit(A, [Put("k", b"x")])
        await viewer.stop()
        await engine.stop()

    asyncio.run(main())
