"""The Host header check (runtime/authority.py): exactly host[:port], and the URL user code sees."""

from __future__ import annotations

import pytest

from telnyx_edge.runtime.authority import Authority, BadHost, parse_host, request_url

GOOD = [
    ("localhost", Authority("localhost", None)),
    ("API.Example:8080", Authority("api.example", 8080)),
    ("127.0.0.1:1", Authority("127.0.0.1", 1)),
    ("[::1]", Authority("[::1]", None)),
    ("[2001:DB8::1]:65535", Authority("[2001:db8::1]", 65535)),
    ("under_score.example.", Authority("under_score.example.", None)),
]
BAD = [
    "", " ", "a b", "evil.example/admin", "evil.example?x=", "evil.example#f", "user@host", "a@b",
    "host:", "host:0", "host:65536", "host:99999", "host:8o", "host:80:81", "::1", "[::1", "[::1]x",
    "[::1]:", "[nope]", "-lead", "%2e", "host\\x", "h\tt", "ho\x00st", "é.example",
]


@pytest.mark.parametrize(("raw", "expected"), GOOD)
def test_valid_hosts(raw: str, expected: Authority) -> None:
    assert parse_host(raw) == expected


@pytest.mark.parametrize("raw", BAD)
def test_invalid_hosts_are_refused_with_one_line(raw: str) -> None:
    with pytest.raises(BadHost) as info:
        parse_host(raw)
    assert "\n" not in str(info.value) and "Host" in str(info.value)


def test_the_url_takes_path_and_query_from_the_request_line() -> None:
    assert request_url(Authority("a.example", 81), b"/p/q", b"x=1") == "http://a.example:81/p/q?x=1"
    assert request_url(Authority("[::1]", None), b"/", b"") == "http://[::1]/"
    assert request_url(Authority("a", None), b"", b"") == "http://a/"
