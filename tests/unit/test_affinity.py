"""Affinity (runtime/js/affinity.mjs): the slot a request's fetch handler should run on so its
actor call stays local, learned from calls that hopped and predicted from known actor names."""

from __future__ import annotations

from typing import Any

import pytest

from telnyx_edge.runtime.jsmodule import JS_DIR
from tests.harness import node_json

_SCRIPT = """
const { Affinity, namesSegment } = await import(process.argv[1]);
const sinks = (...routes) => routes.map((route) => ({ route }));
const learn = (a, list, name, slot) => a.learn(list[Symbol.iterator](), list.length, name, slot);
const out = {};

// Nothing learned: no opinion.
let a = new Affinity();
out.fresh = a.slotFor("/accounts/acct1/debit") ?? null;

// One request in flight: the call is its own, whatever the path says.
learn(a, sinks("/pay"), "acct1", 1);
out.single = a.slotFor("/pay") ?? null;

// Many requests in flight (concurrency): the call belongs to the one path naming the actor.
a = new Affinity();
learn(a, [...sinks("/accounts/acct2/debit", "/accounts/acct3/debit"), { route: undefined }], "acct3", 1);
out.manyLearned = a.slotFor("/accounts/acct3/debit") ?? null;
out.manyOther = a.slotFor("/accounts/acct2/debit") ?? null;

// A path never seen, naming a known actor: predicted.
out.predicted = a.slotFor("/accounts/acct3/balance") ?? null;
out.unknownName = a.slotFor("/accounts/acct9/balance") ?? null;

// Two different paths name the actor: the call cannot be attributed to either.
a = new Affinity();
learn(a, sinks("/a/x/one", "/b/x/two"), "x", 1);
out.ambiguous = [a.routes.has("/a/x/one"), a.routes.has("/b/x/two")];

// A later call corrects a cached "no prediction".
a = new Affinity();
learn(a, sinks("/other"), "seed", 0);
out.before = a.slotFor("/things/t1") ?? null;
learn(a, sinks("/things/t1", "/z"), "t1", 1);
out.after = a.slotFor("/things/t1") ?? null;

// Bounded: endless distinct paths or names never grow the maps past their cap.
a = new Affinity();
for (let i = 0; i < 25000; i++) learn(a, sinks(`/p/n${i}`), `n${i}`, i % 2);
out.bounded = [a.routes.size <= 10000, a.names.size <= 10000];

out.segments = [
  namesSegment("/a/x/b", "x"), namesSegment("/a/x", "x"), namesSegment("/a/xx/b", "x"),
  namesSegment("/a/bx", "x"), namesSegment("x/a", "x"), namesSegment("/a/x", ""),
];
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    parsed: dict[str, Any] = node_json(_SCRIPT, (JS_DIR / "affinity.mjs").as_uri())
    return parsed


def test_no_opinion_before_anything_is_learned(result: dict[str, Any]) -> None:
    assert result["fresh"] is None


def test_a_lone_request_owns_the_call(result: dict[str, Any]) -> None:
    assert result["single"] == 1


def test_under_concurrency_the_path_naming_the_actor_learns_it(result: dict[str, Any]) -> None:
    assert result["manyLearned"] == 1
    assert result["manyOther"] is None


def test_an_unseen_path_naming_a_known_actor_is_predicted(result: dict[str, Any]) -> None:
    assert result["predicted"] == 1
    assert result["unknownName"] is None


def test_an_ambiguous_call_teaches_no_path(result: dict[str, Any]) -> None:
    assert result["ambiguous"] == [False, False]


def test_a_cached_miss_is_corrected_by_a_later_call(result: dict[str, Any]) -> None:
    assert result["before"] is None
    assert result["after"] == 1


def test_memory_is_bounded(result: dict[str, Any]) -> None:
    assert result["bounded"] == [True, True]


def test_segments_match_whole_path_segments_only(result: dict[str, Any]) -> None:
    assert result["segments"] == [True, True, False, False, False, False]
