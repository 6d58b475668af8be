from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from telnyx_edge import config
from telnyx_edge.errors import ConfigError

VALID = """\
name = "account"
main = "src/index.ts"
compatibility_date = "2026-05-01"

[[actors]]
binding = "ACCOUNT"
type = "Account"

[edge_compute]
func_id = "7819cf01-39a8-400e-9bce-3d792ffa4017"
func_name = "account"
"""

HEAD = 'name = "account"\nmain = "src/index.ts"\n'
UUID = "7819cf01-39a8-400e-9bce-3d792ffa4017"


def project(tmp_path: Path, text: str, filename: str = "telnyx.toml") -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "index.ts").write_text("export default {};\n")
    (tmp_path / filename).write_text(text)
    return tmp_path


def problems_of(tmp_path: Path, text: str, filename: str = "telnyx.toml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.load_manifest(project(tmp_path, text, filename))
    return info.value.problems


def test_valid_manifest_parses_into_frozen_dataclasses(tmp_path: Path) -> None:
    manifest = config.load_manifest(project(tmp_path, VALID))
    assert manifest.kind == "umbrella"
    assert manifest.name == "account"
    assert manifest.main == "src/index.ts"
    assert manifest.compatibility_date == "2026-05-01"
    assert manifest.actors == (config.ActorBinding("ACCOUNT", "Account"),)
    assert manifest.func_id == UUID
    assert manifest.func_name == "account"
    assert manifest.warnings == ()
    assert manifest.main_path == (tmp_path / "src" / "index.ts").resolve()
    with pytest.raises(AttributeError):
        manifest.name = "other"  # type: ignore[misc]


def test_telnyx_toml_wins_over_func_toml(tmp_path: Path) -> None:
    project(tmp_path, VALID)
    (tmp_path / "func.toml").write_text(f'[edge_compute]\nfunc_id = "{UUID}"\nfunc_name = "x"\n')
    assert config.find_manifest(tmp_path).name == "telnyx.toml"
    (tmp_path / "telnyx.toml").unlink()
    manifest = config.load_manifest(tmp_path)
    assert manifest.kind == "classic" and manifest.func_name == "x"


def test_every_binding_kind_and_two_bindings_of_one_type(tmp_path: Path) -> None:
    text = HEAD + """
[[actors]]
binding = "ACCOUNT"
type = "Account"

[[actors]]
binding = "READONLY"
type = "Account"

[telnyx]
binding = "TELNYX"

[[secrets]]
binding = "GREETING"
name = "DEMO_GREETING"

[storage.kv.CACHE]
id = "kv-id"

[storage.sqldb.DB]
id = "db-id"

[storage.cloudstorage.FILES]
bucket_name = "b"
region = "us-east"

[[ratelimits]]
name = "API_LIMIT"
limit = 100
period = 60

[env_vars]
MODE = "demo"
"""
    manifest = config.load_manifest(project(tmp_path, text))
    assert [a.binding for a in manifest.actors] == ["ACCOUNT", "READONLY"]
    assert manifest.secrets == (config.SecretBinding("GREETING", "DEMO_GREETING"),)
    assert [(p.binding, p.kind) for p in manifest.platform_bindings] == [
        ("SECRETS", "secrets"), ("TELNYX", "telnyx"), ("CACHE", "storage.kv"),
        ("FILES", "storage.cloudstorage"), ("DB", "storage.sqldb"), ("API_LIMIT", "ratelimits"),
    ]
    assert manifest.env_vars == {"MODE": "demo"}


def test_unknown_keys_and_shadowing_env_vars_are_warnings(tmp_path: Path) -> None:
    text = VALID.replace('[edge_compute]', 'colour = "blue"\n[env_vars]\nACCOUNT = "x"\n\n[edge_compute]')
    text = text.replace('type = "Account"', 'type = "Account"\nextra = 1')
    manifest = config.load_manifest(project(tmp_path, text.replace('colour = "blue"\n', '')))
    assert manifest.warnings == (
        "actors[0].extra: unknown key (ignored)",
        "env_vars.ACCOUNT: shadows the binding declared at actors[0].binding",
    )
    manifest = config.load_manifest(project(tmp_path, 'colour = "blue"\n' + VALID))
    assert manifest.warnings == ("colour: unknown key (ignored)",)


def test_toml_date_value_is_accepted_for_compatibility_date(tmp_path: Path) -> None:
    manifest = config.load_manifest(project(tmp_path, VALID.replace('"2026-05-01"', "2026-05-01")))
    assert manifest.compatibility_date == "2026-05-01"


ACTOR = '[[actors]]\nbinding = "{b}"\ntype = "{t}"\n'

# (manifest text, the one expected problem: "toml.path: message")
MALFORMED: list[tuple[str, str]] = [
    ('main = "src/index.ts"\n', "name: missing; add name = \"...\" at the top of telnyx.toml"),
    ('name = "account"\n', 'main: missing; add main = "..." at the top of telnyx.toml'),
    ('name = 5\nmain = "src/index.ts"\n', "name: must be a string, not an integer"),
    ('name = "-bad"\nmain = "src/index.ts"\n', "name: '-bad' is not a valid function name (1-64 letters, digits and dashes, no leading or trailing dash)"),
    ('name = "a_b"\nmain = "src/index.ts"\n', "name: 'a_b' is not a valid function name (1-64 letters, digits and dashes, no leading or trailing dash)"),
    ('name = "account"\nmain = "src/missing.ts"\n', "main: 'src/missing.ts' does not exist; create it or point main at the entry module"),
    ('name = "account"\nmain = "../outside.ts"\n', "main: '../outside.ts' must be a path inside the project"),
    ('name = "account"\nmain = ["src/index.ts"]\n', "main: must be a string, not an array"),
    (HEAD + 'compatibility_date = "May 1"\n', "compatibility_date: 'May 1' must be a date string \"YYYY-MM-DD\""),
    (HEAD + 'compatibility_date = "2026-02-30"\n', "compatibility_date: '2026-02-30' is not a real calendar date"),
    (HEAD + ACTOR.format(b="1ACCOUNT", t="Account"), "actors[0].binding: '1ACCOUNT' is not an identifier (letters, digits, _ and $, not starting with a digit)"),
    (HEAD + ACTOR.format(b="MY__ACCOUNT", t="Account"), "actors[0].binding: 'MY__ACCOUNT' must not contain '__'"),
    (HEAD + ACTOR.format(b="ACCOUNT", t="Acc-ount"), "actors[0].type: 'Acc-ount' is not an identifier (letters, digits, _ and $, not starting with a digit)"),
    (HEAD + ACTOR.format(b="ACCOUNT", t="Account__V2"), "actors[0].type: 'Account__V2' must not contain '__'"),
    (HEAD + ACTOR.format(b="ACCOUNT", t="A" * 33), f"actors[0].type: '{'A' * 33}' is 33 characters; the limit is 32"),
    (HEAD + '[[actors]]\ntype = "Account"\n', "actors[0].binding: missing"),
    (HEAD + '[[actors]]\nbinding = "ACCOUNT"\n', "actors[0].type: missing"),
    (HEAD + '[[actors]]\nbinding = "ACCOUNT"\ntype = 7\n', "actors[0].type: must be a string, not an integer"),
    (HEAD + '[[actors]]\nbinding = ""\ntype = "Account"\n', "actors[0].binding: must not be empty"),
    (HEAD + ACTOR.format(b="ACCOUNT", t="Account") + ACTOR.format(b="ACCOUNT", t="Ledger"), "actors[1].binding: binding 'ACCOUNT' is already declared at actors[0].binding; binding names must be unique"),
    (HEAD + 'actors = "Account"\n', "actors: must be an array of tables [[actors]], not a string"),
    (HEAD + '[actors]\nbinding = "A"\n', "actors: must be an array of tables [[actors]], not a table"),
    (HEAD + ACTOR.format(b="SECRETS", t="Account") + '[[secrets]]\nbinding = "G"\nname = "N"\n', "actors[0].binding: binding name SECRETS is reserved when the file has a [[secrets]] block"),
    (HEAD + '[[secrets]]\nname = "DEMO"\n', "secrets[0]: Missing 'binding' in [[secrets]] block"),
    (HEAD + '[[secrets]]\nbinding = "G"\n', "secrets[0]: Missing 'name' in [[secrets]] block"),
    (HEAD + '[[actor]]\nbinding = "A"\ntype = "B"\n', "actor: unknown table; did you mean `[[actors]]`? Rename it so its bindings exist"),
    (HEAD + '[[secret]]\nbinding = "A"\nname = "B"\n', "secret: unknown table; did you mean `[[secrets]]`? Rename it so its bindings exist"),
    (HEAD + '[edge_compute]\nfunc_name = "bad name"\n', "edge_compute.func_name: 'bad name' is not a valid function name (1-64 letters, digits and dashes, no leading or trailing dash)"),
    (HEAD + 'edge_compute = 3\n', "edge_compute: must be a table [edge_compute], not an integer"),
    (HEAD + '[env_vars]\nPORT = 8080\n', "env_vars.PORT: must be a string, not an integer (all values are strings)"),
    (HEAD + '[telnyx]\nbinding = "TEL NYX"\n', "telnyx.binding: 'TEL NYX' is not an identifier (letters, digits, _ and $, not starting with a digit)"),
    (HEAD + '[storage.kv.CACHE]\nnamespace = "x"\n', "storage.kv.CACHE.id: missing"),
    (HEAD + ACTOR.format(b="CACHE", t="Account") + '[storage.kv.CACHE]\nid = "x"\n', "storage.kv.CACHE: binding 'CACHE' is already declared at actors[0].binding; binding names must be unique"),
    (HEAD + '[[ratelimits]]\nname = "API"\nlimit = 0\nperiod = 60\n', "ratelimits[0].limit: 0 must be a positive whole number"),
    (HEAD + '[[ratelimits]]\nname = "API"\nlimit = 10\n', "ratelimits[0].period: missing; a positive whole number is required"),
    (HEAD + 'actors = [1]\n', "actors[0]: must be a table, not an integer"),
    (HEAD + '[storage]\nkv = "CACHE"\n', "storage.kv: must be a table of [storage.kv.NAME] blocks"),
    (HEAD + '[storage.kv.MY__CACHE]\nid = "x"\n', "storage.kv.MY__CACHE: 'MY__CACHE' must be an identifier without '__'"),
    (HEAD + '[storage.sqldb]\nDB = "x"\n', "storage.sqldb.DB: must be a table"),
    ('name = "account"\nmain = ""\n', "main: '' does not name a file; point main at the entry module (e.g. \"src/index.ts\")"),
    ('name = "account"\nmain = "src/index.ts/"\n', "main: 'src/index.ts/' does not name a file; point main at the entry module (e.g. \"src/index.ts\")"),
    ('name = "account"\nmain = "src"\n', "main: 'src' is a directory; point main at the entry module in it (e.g. \"src/index.ts\")"),
    (HEAD + 'compatibility_date = 2026-05-01T10:00:00Z\n', "compatibility_date: 2026-05-01T10:00:00Z must be a date string \"YYYY-MM-DD\""),
    (HEAD + 'compatibility_date = 10:00:00\n', "compatibility_date: 10:00:00 must be a date string \"YYYY-MM-DD\""),
    (HEAD + '[[ratelimits]]\nname = "API"\nlimit = 2026-05-01\nperiod = 60\n', "ratelimits[0].limit: 2026-05-01 must be a positive whole number"),
    (HEAD + '[env_vars]\n' + "".join(f'V{i} = "x"\n' for i in range(65)), "env_vars: 65 variables; the platform allows at most 64 per function (spec 2.3)"),
    (HEAD + '[env_vars]\n"" = "x"\n', 'env_vars."": \'\' cannot be an environment variable name (empty, or holds \'=\' or NUL)'),
    (HEAD + '[env_vars]\n"A=B" = "x"\n', 'env_vars."A=B": \'A=B\' cannot be an environment variable name (empty, or holds \'=\' or NUL)'),
    (HEAD + f'[env_vars]\n{"N" * 257} = "x"\n', f"env_vars.{'N' * 40}…: name is 257 bytes; the limit is 256 (spec 2.3)"),
    (HEAD + f'[env_vars]\n"{"é" * 129}" = "x"\n', f'env_vars."{"é" * 40}"…: name is 258 bytes; the limit is 256 (spec 2.3)'),
    (HEAD + f'[env_vars]\nBIG = "{"x" * 5121}"\n', "env_vars.BIG: value is 5,121 bytes; the limit is 5 KB (5,120 bytes, spec 2.3)"),
    (HEAD + '[env_vars]\nNUL = "a\\u0000b"\n', "env_vars.NUL: holds a NUL character, which no environment variable can"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED, ids=[e.split(":")[0] + f"-{i}" for i, (_, e) in enumerate(MALFORMED)])
def test_malformed_manifest_reports_problem_with_toml_path(tmp_path: Path, text: str, expected: str) -> None:
    assert problems_of(tmp_path, text) == [expected]


def _problem_patterns() -> list[tuple[int, re.Pattern[str]]]:
    """Every `self.problem(where, message)` in config.py as (line, regex of "where: message")."""
    tree = ast.parse(Path(config.__file__).read_text())
    patterns = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "problem"):
            continue
        parts = []
        for arg in node.args:
            pieces = arg.values if isinstance(arg, ast.JoinedStr) else [arg]
            parts.append("".join(
                re.escape(p.value) if isinstance(p, ast.Constant) and isinstance(p.value, str) else ".+" for p in pieces
            ))
        patterns.append((node.lineno, re.compile(": ".join(parts) + "$")))
    return patterns


def test_table_is_large_enough() -> None:
    """Every problem the manifest validator can report has a row in MALFORMED (or, for the two
    that need more than one problem or another file name, a test of its own below)."""
    covered = [expected for _, expected in MALFORMED] + [
        "actors: [[actors]] is only allowed in telnyx.toml; rename func.toml to telnyx.toml and add name and main",
    ]
    patterns = _problem_patterns()
    assert len(patterns) >= 25  # the walk above found the validator's calls
    missing = [f"config.py:{line}: {regex.pattern}" for line, regex in patterns if not any(regex.match(e) for e in covered)]
    assert missing == []


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = 'name = "-x"\nmain = "nope.ts"\n' + ACTOR.format(b="A__B", t="C-D") + '[[secrets]]\nname = "N"\n'
    problems = problems_of(tmp_path, text)
    assert [p.split(":")[0] for p in problems] == ["name", "main", "actors[0].binding", "actors[0].type", "secrets[0]"]
    with pytest.raises(ConfigError) as info:
        config.load_manifest(tmp_path)
    assert info.value.message == "telnyx.toml has 5 problems"


def test_placeholder_func_id_is_a_warning(tmp_path: Path) -> None:
    # Example projects ship `replace-with-your-function-id`: dev must run them, ship must not.
    manifest = config.load_manifest(project(tmp_path, HEAD + '[edge_compute]\nfunc_id = "replace-with-your-function-id"\n'))
    assert manifest.func_id is None
    assert manifest.func_id_placeholder == "replace-with-your-function-id"
    assert manifest.warnings == (
        "edge_compute.func_id: 'replace-with-your-function-id' is not a function id (a UUID written by "
        "telnyx-edge new-func); dev runs without it, ship needs one",
    )


def test_actors_only_in_telnyx_toml(tmp_path: Path) -> None:
    text = f'[edge_compute]\nfunc_id = "{UUID}"\nfunc_name = "x"\n' + ACTOR.format(b="A", t="B")
    assert problems_of(tmp_path, text, "func.toml") == [
        "actors: [[actors]] is only allowed in telnyx.toml; rename func.toml to telnyx.toml and add name and main"
    ]


def test_syntax_error_names_the_position(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.load_manifest(project(tmp_path, 'name = "a"\nmain = \n'))
    assert info.value.message.startswith("telnyx.toml is not valid TOML: ")
    assert "line 2" in info.value.message


def test_missing_manifest_and_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No project manifest found in"):
        config.load_manifest(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        config.load_manifest(tmp_path / "nope")


def test_unreadable_manifest(tmp_path: Path) -> None:
    project(tmp_path, VALID)
    (tmp_path / "telnyx.toml").write_bytes(b"name = \"\xff\xfe\"\n")
    with pytest.raises(ConfigError, match="Cannot read .*telnyx.toml"):
        config.load_manifest(tmp_path)


def test_write_edge_compute_keeps_comments_and_layout(tmp_path: Path) -> None:
    original = """\
# My project. Keep this comment.
name   = "account"      # aligned on purpose
main   = "src/index.ts"

[[actors]]
binding = "ACCOUNT"   # the env property
type    = "Account"

# identity below
[edge_compute]
func_id = "00000000-0000-4000-8000-000000000000"  # old id
func_name = "old"
"""
    path = tmp_path / "telnyx.toml"
    path.write_text(original)
    config.write_edge_compute(path, UUID, "account")
    expected = original.replace("00000000-0000-4000-8000-000000000000", UUID).replace('"old"', '"account"')
    assert path.read_text() == expected


def test_write_edge_compute_appends_a_missing_table(tmp_path: Path) -> None:
    path = tmp_path / "func.toml"
    path.write_text("# classic\n[env_vars]\nA = \"1\"\n")
    config.write_edge_compute(path, UUID, "fn")
    assert path.read_text() == f'# classic\n[env_vars]\nA = "1"\n\n[edge_compute]\nfunc_id = "{UUID}"\nfunc_name = "fn"\n'
