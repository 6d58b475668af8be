"""Resolving a function's bindings against the account, and `dev --env-file` parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from telnyx_edge import config
from telnyx_edge.account.secrets import SecretStore
from telnyx_edge.errors import ConfigError
from telnyx_edge.runtime.bindings import BindingSources, declarations, read_env_file, resolve

UUID = "5b0c6d2e-3f4a-4b5c-8d6e-7f8091a2b3c4"
MANIFEST = f"""name = "app"
main = "src/index.ts"

[[secrets]]
binding = "TOKEN"
name = "api_token"

[env_vars]
MODE = "prod"

[storage.kv.CACHE]
id = "{UUID}"

[storage.cloudstorage.FILES]
bucket_name = "my-files"
region = "us-east"

[[ratelimits]]
name = "LIMITER"
limit = 5
period = 10

[telnyx]
binding = "TELNYX"
"""


def manifest(tmp_path: Path, text: str = MANIFEST) -> config.Manifest:
    (tmp_path / "telnyx.toml").write_text(text)
    return config.load_manifest(tmp_path, check_main=False)


def test_resolution_layers_secrets_env_vars_and_overrides(tmp_path: Path) -> None:
    home = tmp_path / "home"
    SecretStore(home).add("API_TOKEN", "secret-1")
    SecretStore(home).add("OTHER", "secret-2")
    sources = BindingSources(home, tmp_path / "state", overrides={"MODE": "dev", "EXTRA": "x"})
    resolved = resolve(declarations(manifest(tmp_path)), sources)
    assert resolved.env_vars == {"MODE": "dev"}
    env = resolved.process_env
    assert (env["API_TOKEN"], env["OTHER"], env["MODE"], env["EXTRA"]) == ("secret-1", "secret-2", "dev", "x")
    platform = resolved.platform
    assert platform["secrets"] == {"TOKEN": "API_TOKEN"} and platform["secret_values"] == {"API_TOKEN": "secret-1"}
    assert platform["kv"]["CACHE"]["path"] == str(home / "storage" / "kv" / f"{UUID}.sqlite")
    assert platform["buckets"]["FILES"]["path"] == str(home / "storage" / "buckets" / "my-files")
    assert platform["ratelimits"]["LIMITER"] == {"limit": 5, "period": 10, "path": str(tmp_path / "state" / "ratelimits.sqlite")}
    assert platform["unavailable"] == {}  # [telnyx] is the isolate's own client (js/bindings/telnyx.mjs)
    assert resolved.notices == ()


def test_an_unset_secret_is_a_notice_without_values(tmp_path: Path) -> None:
    resolved = resolve(declarations(manifest(tmp_path)), BindingSources(tmp_path / "home", tmp_path / "state"))
    assert resolved.platform["secret_values"] == {}
    assert resolved.notices == (
        'secret API_TOKEN (env.SECRETS.get("TOKEN")) is not set: run telnyx-edge secrets add API_TOKEN VALUE, '
        "or pass it with dev --env-file",
    )


def test_a_placeholder_id_runs_on_a_local_namespace_and_says_so(tmp_path: Path) -> None:
    text = MANIFEST.replace(UUID, "<kv-namespace-uuid>")
    declared = declarations(manifest(tmp_path, text))
    first = resolve(declared, BindingSources(tmp_path / "home", tmp_path / "state"))
    again = resolve(declared, BindingSources(tmp_path / "home", tmp_path / "state", strict=False))
    local = first.platform["kv"]["CACHE"]["id"]
    assert local == again.platform["kv"]["CACHE"]["id"] and local != UUID  # the same namespace every run
    assert [n for n in first.notices if n.startswith("storage.kv.CACHE.id")] == [
        f"storage.kv.CACHE.id: '<kv-namespace-uuid>' is not a UUID; locally its data lives in kv namespace {local} "
        "(to ship, create one with 'telnyx-edge storage kv create --name NAME' and put its id in telnyx.toml)"
    ]


def test_env_file_format(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "# comment\n\nA=plain\nexport B = spaced  \nC='single # not a comment'\nD=\"two\\nlines \\\"q\\\"\"\n"
        "E=value # trailing comment\nF=\nG=\"quoted\" # ok\n"
    )
    assert read_env_file(path) == {
        "A": "plain", "B": "spaced", "C": "single # not a comment", "D": 'two\nlines "q"', "E": "value", "F": "", "G": "quoted",
    }


@pytest.mark.parametrize("line", ["NOEQUALS", "1BAD=x", 'Q="unterminated', "K='a' junk", "with space=x"])
def test_env_file_errors_name_the_line_not_the_value(tmp_path: Path, line: str) -> None:
    path = tmp_path / ".env"
    path.write_text(f"OK=1\n{line}\n")
    with pytest.raises(ConfigError) as info:
        read_env_file(path)
    assert info.value.message == f"{path}:2: not a KEY=value line"
