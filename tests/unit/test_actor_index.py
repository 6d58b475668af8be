"""The instance index: fed by isolates' reports, rebuilt from the actor databases after an unclean
stop, and fast to list because it never opens the databases."""

from __future__ import annotations

import time
from pathlib import Path

from telnyx_edge.runtime.actor_index import INDEX_FILE, ActorIndex, actor_file, list_instances
from telnyx_edge.runtime.migrate import write_actor


def test_ten_thousand_instances_list_from_the_index_alone(tmp_path: Path) -> None:
    index = ActorIndex(tmp_path)
    index.open()
    index.apply_stats([["Room", f"room-{i:05d}", 1_000 + i, i % 7, 10 * i, 1, 8192, None] for i in range(10_000)])
    index.close()
    assert not (tmp_path / "actors").exists()  # nothing to open: the listing must come from the index
    started = time.perf_counter()
    rows = list_instances(tmp_path, "Room")
    elapsed = time.perf_counter() - started
    assert len(rows) == 10_000
    assert rows[0].name == "room-09999" and rows[0].keys == 9999 % 7 and rows[0].sql_tables == 1
    assert elapsed < 2.0, f"listing 10,000 instances took {elapsed:.2f} s"


def test_an_unclean_index_is_rebuilt_from_the_databases(tmp_path: Path) -> None:
    odd = "lone \ud800 surrogate"
    write_actor(tmp_path, "Session", odd, [(b"k", b"v")], (5_000, 6_000, 2))
    write_actor(tmp_path, "Session", "plain", [])
    assert actor_file(tmp_path, "Session", odd) != actor_file(tmp_path, "Session", "lone \ufffd surrogate")
    index = ActorIndex(tmp_path)
    index.open()  # no index yet: rebuilt from the files
    assert index.rebuilt == 2
    assert index.alarms() == [(("Session", odd), 6_000)]
    index.set_alarm(("Session", "plain"), 9_000)
    # No close(): the runtime "died". The next open must not trust what the index says.
    index.conn.execute("UPDATE instances SET alarm_fire_ms = NULL")
    reopened = ActorIndex(tmp_path)
    reopened.open()
    assert reopened.rebuilt == 2
    assert sorted(reopened.alarms()) == [(("Session", odd), 6_000)]
    reopened.close()
    clean = ActorIndex(tmp_path)
    clean.open()
    assert clean.rebuilt == 0  # a clean stop is trusted
    clean.close()
    assert (tmp_path / INDEX_FILE).is_file()
    names = {r.name for r in list_instances(tmp_path, "Session")}
    assert names == {odd, "plain"}
