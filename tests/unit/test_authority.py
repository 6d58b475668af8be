"""The Host header check (runtime/js/authority.mjs): exactly host[:port], and the URL user code sees."""

from __future__ import annotations

import json
from typing import Any

import pytest

from telnyx_edge.runtime.jsmodule import JS_DIR
from tests.harness import node_json

GOOD = [
    ("10.0.0.255", {"name": "10.0.0.255", "port": None}),
    ("api.v2", {"name": "api.v2", "port": None}),
    ("localhost", {"name": "localhost", "port": None}),
    ("API.Example:8080", {"name": "api.example", "port": 8080}),
    ("127.0.0.1:1", {"name": "127.0.0.1", "port": 1}),
    ("[::1]", {"name": "[::1]", "port": None}),
    ("[2001:DB8::1]:65535", {"name": "[2001:db8::1]", "port": 65535}),
    ("under_score.example.", {"name": "under_score.example.", "port": None}),
]
BAD = [
    "", " ", "a b", "evil.example/admin", "evil.example?x=", "evil.example#f", "user@host", "a@b",
    "host:", "host:0", "host:65536", "host:99999", "host:8o", "host:80:81", "::1", "[::1", "[::1]x",
    "[::1]:", "[nope]", "-lead", "%2e", "host\\x", "h\tt", "ho\x00st", "é.example", "[fe80::1%eth0]",
    # a last label that is a number makes the name an IPv4 address to URL parsers: dotted quads only
    "999.1.1.1", "256.0.0.1:80", "1.2.3.4.5", "0x7f.1", "1.2.3", "01.2.3.4", "1.2.3.0x4",
]

_SCRIPT = """
const a = await import(process.argv[1]);
const out = { parsed: {}, urls: [] };
for (const raw of JSON.parse(process.argv[2])) {
  try { out.parsed[raw] = { ok: a.parseHost(raw) }; } catch (err) { out.parsed[raw] = { bad: err.message, isBadHost: err instanceof a.BadHost }; }
}
out.urls = [a.requestUrl({ name: "a.example", port: 81 }, "/p/q?x=1"), a.requestUrl({ name: "[::1]", port: null }, "/"), a.requestUrl({ name: "a", port: null }, ""),
  a.requestUrl({ name: "a", port: null }, "http://other.example/p?q=1"), a.requestUrl({ name: "a", port: null }, "HTTP://other.example")];
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def node() -> dict[str, Any]:
    cases = [raw for raw, _ in GOOD] + BAD
    result: dict[str, Any] = node_json(_SCRIPT, (JS_DIR / "authority.mjs").as_uri(), json.dumps(cases))
    return result


@pytest.mark.parametrize(("raw", "expected"), GOOD)
def test_valid_hosts(node: dict[str, Any], raw: str, expected: dict[str, Any]) -> None:
    assert node["parsed"][raw] == {"ok": expected}


@pytest.mark.parametrize("raw", BAD)
def test_invalid_hosts_are_refused_with_one_line(node: dict[str, Any], raw: str) -> None:
    outcome = node["parsed"][raw]
    assert outcome.get("isBadHost") is True, outcome
    assert "\n" not in outcome["bad"] and "Host" in outcome["bad"]


def test_the_url_takes_path_and_query_from_the_request_line(node: dict[str, Any]) -> None:
    # An absolute-form target (RFC 9112 3.2.2) gives its path and query; the authority stays Host's.
    assert node["urls"] == ["http://a.example:81/p/q?x=1", "http://[::1]/", "http://a/", "http://a/p?q=1", "http://a/"]
