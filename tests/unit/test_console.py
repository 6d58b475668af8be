"""What reaches a terminal: user data is escaped, never interpreted, and never crashes the output."""

from __future__ import annotations

from telnyx_edge.console import one_line, printable


def test_control_characters_and_lone_surrogates_are_escaped() -> None:
    assert printable("plain ünïcode 🚀\ttab\nline") == "plain ünïcode 🚀\ttab\nline"
    assert printable("\x1b[31mred\x07") == "\\x1b[31mred\\x07"
    assert printable("\x9b2J") == "\\x9b2J"
    # A lone surrogate (an actor name from JavaScript) cannot be encoded as UTF-8 at all.
    assert printable("lone \ud800 and \udfff") == "lone \\ud800 and \\udfff"
    printable("x\ud800").encode("utf-8")  # no UnicodeEncodeError


def test_a_table_cell_stays_one_cell_on_one_line_in_its_real_order() -> None:
    assert one_line("a\nb\tc") == "a\\x0ab\\x09c"
    assert one_line("evil\u202egnp.exe") == "evil\\u202egnp.exe"
    assert one_line("x\u2028y\u200bz") == "x\\u2028y\\u200bz"
    assert one_line("zoë 🚀 ok") == "zoë 🚀 ok"


def test_status_lines_escape_newlines_and_details_stay_indented(capsys) -> None:  # type: ignore[no-untyped-def]
    from telnyx_edge import console

    console.success("made 'a\nb'")
    console.step("wrote x\ry")
    console.warning("odd\nname")
    console.error("No actor type 'x\n❌ forged'", hint="try\nagain")
    console.detail("first\nsecond\x1b")
    captured = capsys.readouterr()
    assert captured.out == "✅ made 'a\\x0ab'\n✓ wrote x\\x0dy\n"
    assert captured.err.splitlines() == [
        "⚠️  odd\\x0aname", "❌ No actor type 'x\\x0a❌ forged'", "💡 try\\x0aagain", "   first", "   second\\x1b",
    ]
