"""delivery.mjs: what the main thread may send again when a Worker ends. A request never taken,
or taken and not begun, may be re-sent; one begun, or too far behind the last taken id for its
mark to be trusted, may not. Ids compare modulo 2^32."""

from __future__ import annotations

from typing import Any

import pytest

from telnyx_edge.runtime.jsmodule import JS_DIR
from tests.harness import node_json

_SCRIPT = """
const { newMarks, took, began, mayHaveBegun } = await import(process.argv[1]);
const run = (taken, begun, asked) => {
  const m = newMarks();
  if (taken !== null) took(m, taken);
  for (const id of begun) began(m, id);
  return asked.map((id) => mayHaveBegun(m, id));
};
const W = 2 ** 32;
console.log(JSON.stringify({
  fresh: run(null, [], [1, 2, 1000]),
  mailbox: run(5, [1, 3], [1, 2, 3, 4, 5, 6, 7]),
  window: run(10000, [], [5903, 5904, 5905, 9999]),
  overwritten: run(10000, [10000], [10000, 10000 - 4096]),
  past31: run(2 ** 31 + 10, [2 ** 31 + 9], [2 ** 31 + 9, 2 ** 31 + 10, 2 ** 31 + 11]),
  wrapped: run(W + 5, [W + 3, W - 1], [W - 2, W - 1, W + 3, W + 4, W + 6]),
}));
"""


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    parsed: dict[str, Any] = node_json(_SCRIPT, (JS_DIR / "delivery.mjs").as_uri())
    return parsed


def test_a_fresh_worker_began_nothing(result: dict[str, Any]) -> None:
    assert result["fresh"] == [False, False, False]


def test_taken_but_still_in_a_mailbox_did_not_begin(result: dict[str, Any]) -> None:
    # 1..5 taken, 1 and 3 begun; 6 and 7 never taken.
    assert result["mailbox"] == [True, False, True, False, False, False, False]


def test_a_mark_that_may_have_been_overwritten_counts_as_begun(result: dict[str, Any]) -> None:
    # The ring holds 4096 marks: 4096 or more ids behind the last taken one cannot be trusted.
    assert result["window"] == [True, True, False, False]
    assert result["overwritten"] == [True, True]


def test_ids_past_2_31_and_2_32_compare_modulo(result: dict[str, Any]) -> None:
    assert result["past31"] == [True, False, False]
    assert result["wrapped"] == [False, True, True, False, False]
