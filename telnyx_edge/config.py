"""The project manifest: `telnyx.toml` (umbrella) or `func.toml` (classic).

Parsed once at the edge into frozen dataclasses. Validation collects every problem,
each prefixed with its TOML path (`actors[0].type: ...`), and raises one `ConfigError`.
Unknown keys are warnings, not errors. Edits go through tomlkit so the user's comments
and layout survive.
"""

from __future__ import annotations

import datetime as _dt
import re
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomlkit

from telnyx_edge.errors import ConfigError

UMBRELLA = "telnyx.toml"
CLASSIC = "func.toml"

ManifestKind = Literal["umbrella", "classic"]

IDENTIFIER_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
FUNC_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_TYPE_LEN = 32
# [env_vars] limits of the platform, per function (spec 2.3): counted in UTF-8 bytes.
MAX_ENV_VARS = 64
MAX_ENV_NAME_BYTES = 256
MAX_ENV_VALUE_BYTES = 5 * 1024

_UMBRELLA_KEYS = {
    "name", "main", "compatibility_date", "actors", "secrets", "edge_compute",
    "env_vars", "telnyx", "storage", "ratelimits",
}
_CLASSIC_KEYS = _UMBRELLA_KEYS - {"name", "main", "compatibility_date", "actors"}
# Singular spellings real projects use by mistake; the platform ignores them, so the bindings
# they declare would silently be missing: an error, not an unknown-key warning.
_MISSPELLED_TABLES = {"actor": "[[actors]]", "secret": "[[secrets]]", "ratelimit": "[[ratelimits]]", "env_var": "[env_vars]"}
_STORAGE_KINDS = {"kv": ("id",), "cloudstorage": ("bucket_name", "region"), "sqldb": ("id",)}


@dataclass(frozen=True)
class ActorBinding:
    binding: str
    type: str


@dataclass(frozen=True)
class SecretBinding:
    binding: str
    name: str


@dataclass(frozen=True)
class PlatformBinding:
    """A binding only the platform can provide (`[telnyx]`, `[storage.*]`, `[[ratelimits]]`, `[[secrets]]`)."""

    binding: str
    kind: str
    # The block's values: id (storage.kv, storage.sqldb), bucket_name and region
    # (storage.cloudstorage), limit and period in seconds (ratelimits).
    settings: tuple[tuple[str, str | int], ...] = ()

    def setting(self, key: str) -> str | int | None:
        return dict(self.settings).get(key)

    def as_dict(self) -> dict[str, str | int]:
        """As a shipped revision's manifest records it (`platform_bindings`)."""
        return {"binding": self.binding, "kind": self.kind, **dict(self.settings)}


@dataclass(frozen=True)
class Manifest:
    path: Path
    kind: ManifestKind
    name: str | None = None
    main: str | None = None
    compatibility_date: str | None = None
    func_id: str | None = None
    # A func_id that is not a UUID (`replace-with-your-function-id` in example projects):
    # dev runs without one, only ship needs a minted id.
    func_id_placeholder: str | None = None
    func_name: str | None = None
    actors: tuple[ActorBinding, ...] = ()
    secrets: tuple[SecretBinding, ...] = ()
    platform_bindings: tuple[PlatformBinding, ...] = ()
    env_vars: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def main_path(self) -> Path | None:
        return (self.root / self.main).resolve() if self.main else None

    @property
    def display_name(self) -> str:
        return self.func_name or self.name or self.root.name


def valid_func_name(name: str) -> bool:
    """Function names: 1-64 characters, letters, digits and dashes, no leading or trailing dash."""
    return bool(FUNC_NAME_RE.match(name))


def find_manifest(directory: Path) -> Path:
    """The manifest of the project in `directory`: `telnyx.toml` first, else `func.toml`."""
    if not directory.is_dir():
        raise ConfigError(
            f"Project directory {directory} does not exist",
            hint="Pass an existing project directory with -f/--from-dir.",
        )
    for candidate in (UMBRELLA, CLASSIC):
        path = directory / candidate
        if path.is_file():
            return path
        if path.exists():
            raise ConfigError(
                f"{path} is a directory (or another non-file), not a manifest",
                hint=f"Replace it with a {candidate} file (see docs/manifest.md).",
            )
    raise ConfigError(
        f"No project manifest found in {directory}",
        hint="Run the command from a directory containing a telnyx.toml manifest, or pass -f DIR.",
    )


def load_manifest(directory: Path, *, check_main: bool = True) -> Manifest:
    """Find, read, parse and validate the manifest of the project in `directory`."""
    path = find_manifest(directory.resolve())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Cannot read {path}: {exc}", hint="Check the file's permissions and encoding (UTF-8)."
        ) from exc
    return parse_manifest(text, path, check_main=check_main)


def parse_manifest(text: str, path: Path, *, check_main: bool = True) -> Manifest:
    kind: ManifestKind = "umbrella" if path.name == UMBRELLA else "classic"
    # Editors on Windows save UTF-8 with a byte order mark; TOML itself does not allow one.
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path.name} is not valid TOML: {exc}",
            hint=f"Fix the syntax of {path} at the position shown.",
        ) from exc
    return _Validator(path, kind, data, check_main).run()


class _Validator:
    """Walks the parsed TOML once, collecting problems and warnings with their TOML paths."""

    def __init__(self, path: Path, kind: ManifestKind, data: dict[str, Any], check_main: bool) -> None:
        self.path = path
        self.kind = kind
        self.data = data
        self.check_main = check_main
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.bindings: dict[str, str] = {}  # binding name -> TOML path that declared it

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def run(self) -> Manifest:
        known = _UMBRELLA_KEYS if self.kind == "umbrella" else _CLASSIC_KEYS
        for key in self.data:
            if key == "actors" and self.kind == "classic":
                self.problem("actors", "[[actors]] is only allowed in telnyx.toml; rename func.toml to telnyx.toml and add name and main")
            elif key in _MISSPELLED_TABLES and self.kind == "umbrella":
                table = _MISSPELLED_TABLES[key]
                self.problem(key, f"unknown table; did you mean `{table}`? Rename it so its bindings exist")
            elif key not in known:
                self.warnings.append(f"{key}: unknown key (ignored)")
        name = self._top_string("name", required=self.kind == "umbrella")
        if name is not None and not valid_func_name(name):
            self.problem("name", f"{name!r} is not a valid function name (1-64 letters, digits and dashes, no leading or trailing dash)")
        main = self._main()
        date = self._compatibility_date()
        func_id, placeholder, func_name = self._edge_compute()
        actors = self._actors() if self.kind == "umbrella" else ()
        secrets = self._secrets()
        platform = self._platform_bindings()
        env_vars = self._env_vars()
        if secrets:
            platform = (PlatformBinding("SECRETS", "secrets"), *platform)
            if "SECRETS" in self.bindings:
                self.problem(self.bindings["SECRETS"], "binding name SECRETS is reserved when the file has a [[secrets]] block")
        if self.problems:
            count = len(self.problems)
            raise ConfigError(
                f"{self.path.name} has {count} problem{'s' if count != 1 else ''}",
                problems=list(self.problems),
                hint=f"Fix {self.path} and run the command again.",
            )
        return Manifest(
            path=self.path, kind=self.kind, name=name, main=main, compatibility_date=date,
            func_id=func_id, func_id_placeholder=placeholder, func_name=func_name, actors=actors, secrets=secrets,
            platform_bindings=platform, env_vars=env_vars, warnings=tuple(self.warnings),
        )

    # -- top level ------------------------------------------------------------------

    def _top_string(self, key: str, *, required: bool) -> str | None:
        if key not in self.data:
            if required:
                self.problem(key, f"missing; add {key} = \"...\" at the top of {self.path.name}")
            return None
        value = self.data[key]
        if not isinstance(value, str):
            self.problem(key, f"must be a string, not {_toml_type(value)}")
            return None
        return value

    def _main(self) -> str | None:
        if self.kind != "umbrella":
            return None
        main = self._top_string("main", required=True)
        if main is None:
            return None
        if not main.strip() or main.endswith(("/", "\\")):
            self.problem("main", f"{main!r} does not name a file; point main at the entry module (e.g. \"src/index.ts\")")
            return None
        target = (self.path.parent / main).resolve()
        if Path(main).is_absolute() or not target.is_relative_to(self.path.parent.resolve()):
            self.problem("main", f"{main!r} must be a path inside the project")
        elif self.check_main and target.is_dir():
            self.problem("main", f"{main!r} is a directory; point main at the entry module in it (e.g. \"{main.rstrip('/')}/index.ts\")")
        elif self.check_main and not target.is_file():
            self.problem("main", f"{main!r} does not exist; create it or point main at the entry module")
        return main

    def _compatibility_date(self) -> str | None:
        if "compatibility_date" not in self.data:
            return None
        value = self.data["compatibility_date"]
        if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
            return value.isoformat()
        if not isinstance(value, str) or not DATE_RE.match(value):
            shown = _toml_value(value)
            self.problem("compatibility_date", f"{shown} must be a date string \"YYYY-MM-DD\"")
            return None
        try:
            _dt.date.fromisoformat(value)
        except ValueError:
            self.problem("compatibility_date", f"{value!r} is not a real calendar date")
            return None
        return value

    def _edge_compute(self) -> tuple[str | None, str | None, str | None]:
        """(func_id, placeholder, func_name): a func_id that is not a UUID is a placeholder."""
        table = self._table("edge_compute")
        if table is None:
            return None, None, None
        self._unknown(table, "edge_compute", {"func_id", "func_name"})
        func_id = self._string(table, "edge_compute", "func_id")
        placeholder = None
        if func_id is not None:
            try:
                uuid.UUID(func_id)
            except ValueError:
                self.warnings.append(
                    f"edge_compute.func_id: {func_id!r} is not a function id (a UUID written by telnyx-edge new-func); "
                    "dev runs without it, ship needs one"
                )
                placeholder, func_id = func_id, None
        func_name = self._string(table, "edge_compute", "func_name")
        if func_name is not None and not valid_func_name(func_name):
            self.problem("edge_compute.func_name", f"{func_name!r} is not a valid function name (1-64 letters, digits and dashes, no leading or trailing dash)")
        return func_id, placeholder, func_name

    # -- bindings -------------------------------------------------------------------

    def _actors(self) -> tuple[ActorBinding, ...]:
        result: list[ActorBinding] = []
        for where, block in self._array_of_tables("actors"):
            self._unknown(block, where, {"binding", "type"})
            binding = self._identifier(block, where, "binding", required=True)
            type_ = self._identifier(block, where, "type", required=True)
            if type_ is not None and len(type_) > MAX_TYPE_LEN:
                self.problem(f"{where}.type", f"{type_!r} is {len(type_)} characters; the limit is {MAX_TYPE_LEN}")
                type_ = None
            if binding is not None:
                self._claim(binding, f"{where}.binding")
            if binding is not None and type_ is not None:
                result.append(ActorBinding(binding, type_))
        return tuple(result)

    def _secrets(self) -> tuple[SecretBinding, ...]:
        result: list[SecretBinding] = []
        for where, block in self._array_of_tables("secrets"):
            self._unknown(block, where, {"binding", "name"})
            for key in ("binding", "name"):
                if key not in block:
                    self.problem(where, f"Missing '{key}' in [[secrets]] block")
            binding = self._string(block, where, "binding") if "binding" in block else None
            name = self._string(block, where, "name") if "name" in block else None
            if binding is not None and name is not None:
                result.append(SecretBinding(binding, name))
        return tuple(result)

    def _platform_bindings(self) -> tuple[PlatformBinding, ...]:
        result: list[PlatformBinding] = []
        telnyx = self._table("telnyx")
        if telnyx is not None:
            self._unknown(telnyx, "telnyx", {"binding"})
            binding = self._identifier(telnyx, "telnyx", "binding", required=True)
            if binding is not None:
                self._claim(binding, "telnyx.binding")
                result.append(PlatformBinding(binding, "telnyx"))
        storage = self._table("storage")
        for kind, required in _STORAGE_KINDS.items():
            if storage is None or kind not in storage:
                continue
            kinds = storage[kind]
            if not isinstance(kinds, dict):
                self.problem(f"storage.{kind}", f"must be a table of [storage.{kind}.NAME] blocks")
                continue
            for name, block in kinds.items():
                where = f"storage.{kind}.{name}"
                if not IDENTIFIER_RE.match(name) or "__" in name:
                    self.problem(where, f"{name!r} must be an identifier without '__'")
                if not isinstance(block, dict):
                    self.problem(where, "must be a table")
                    continue
                self._unknown(block, where, set(required))
                values = tuple((key, self._string(block, where, key, required=True)) for key in required)
                self._claim(name, where)
                settings = tuple((key, value) for key, value in values if value is not None)
                result.append(PlatformBinding(name, f"storage.{kind}", settings))
        if storage is not None:
            self._unknown(storage, "storage", set(_STORAGE_KINDS))
        for where, block in self._array_of_tables("ratelimits"):
            self._unknown(block, where, {"name", "limit", "period"})
            name = self._identifier(block, where, "name", required=True)
            numbers: list[tuple[str, str | int]] = []
            for key in ("limit", "period"):
                value = block.get(key)
                if value is None:
                    self.problem(f"{where}.{key}", "missing; a positive whole number is required")
                elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    self.problem(f"{where}.{key}", f"{_toml_value(value)} must be a positive whole number")
                else:
                    numbers.append((key, value))
            if name is not None:
                self._claim(name, f"{where}.name")
                result.append(PlatformBinding(name, "ratelimits", tuple(numbers)))
        return tuple(result)

    def _env_vars(self) -> dict[str, str]:
        table = self._table("env_vars")
        if table is None:
            return {}
        result: dict[str, str] = {}
        if len(table) > MAX_ENV_VARS:
            self.problem("env_vars", f"{len(table)} variables; the platform allows at most {MAX_ENV_VARS} per function (spec 2.3)")
        for key, value in table.items():
            where = f"env_vars.{_toml_key(key[:40])}" + ("…" if len(key) > 40 else "")
            if not key or "=" in key or "\x00" in key:
                self.problem(where, f"{key!r} cannot be an environment variable name (empty, or holds '=' or NUL)")
                continue
            if len(key.encode("utf-8")) > MAX_ENV_NAME_BYTES:
                self.problem(where, f"name is {len(key.encode('utf-8'))} bytes; the limit is {MAX_ENV_NAME_BYTES} (spec 2.3)")
                continue
            if not isinstance(value, str):
                self.problem(where, f"must be a string, not {_toml_type(value)} (all values are strings)")
                continue
            if "\x00" in value:
                self.problem(where, "holds a NUL character, which no environment variable can")
                continue
            if len(value.encode("utf-8")) > MAX_ENV_VALUE_BYTES:
                self.problem(
                    where, f"value is {len(value.encode('utf-8')):,} bytes; the limit is 5 KB ({MAX_ENV_VALUE_BYTES:,} bytes, spec 2.3)"
                )
                continue
            if key in self.bindings:
                self.warnings.append(f"env_vars.{key}: shadows the binding declared at {self.bindings[key]}")
            result[key] = value
        return result

    # -- helpers --------------------------------------------------------------------

    def _claim(self, binding: str, where: str) -> None:
        if binding in self.bindings:
            self.problem(where, f"binding {binding!r} is already declared at {self.bindings[binding]}; binding names must be unique")
        else:
            self.bindings[binding] = where

    def _table(self, key: str) -> dict[str, Any] | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if not isinstance(value, dict):
            self.problem(key, f"must be a table [{key}], not {_toml_type(value)}")
            return None
        return value

    def _array_of_tables(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        if key not in self.data:
            return []
        value = self.data[key]
        if not isinstance(value, list):
            self.problem(key, f"must be an array of tables [[{key}]], not {_toml_type(value)}")
            return []
        result = []
        for index, block in enumerate(value):
            where = f"{key}[{index}]"
            if not isinstance(block, dict):
                self.problem(where, f"must be a table, not {_toml_type(block)}")
                continue
            result.append((where, block))
        return result

    def _string(self, table: dict[str, Any], where: str, key: str, *, required: bool = False) -> str | None:
        if key not in table:
            if required:
                self.problem(f"{where}.{key}", "missing")
            return None
        value = table[key]
        if not isinstance(value, str):
            self.problem(f"{where}.{key}", f"must be a string, not {_toml_type(value)}")
            return None
        if not value:
            self.problem(f"{where}.{key}", "must not be empty")
            return None
        return value

    def _identifier(self, table: dict[str, Any], where: str, key: str, *, required: bool) -> str | None:
        value = self._string(table, where, key, required=required)
        if value is None:
            return None
        if not IDENTIFIER_RE.match(value):
            self.problem(f"{where}.{key}", f"{value!r} is not an identifier (letters, digits, _ and $, not starting with a digit)")
            return None
        if "__" in value:
            self.problem(f"{where}.{key}", f"{value!r} must not contain '__'")
            return None
        return value

    def _unknown(self, table: dict[str, Any], where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                self.warnings.append(f"{where}.{key}: unknown key (ignored)")


def _toml_key(key: str) -> str:
    """`key` as TOML spells it: bare when it can be, else a quoted string."""
    import json

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: object) -> str:
    """`value` as the user wrote it in TOML (a date/time without Python's repr)."""
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (int, float)):
        return str(value)
    return _toml_type(value)


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             list: "an array", dict: "a table"}
    for type_, label in names.items():
        if isinstance(value, type_):
            return label
    return "a date/time"


def write_edge_compute(path: Path, func_id: str, func_name: str) -> None:
    """Set `[edge_compute] func_id/func_name`, keeping every comment and the file's layout."""
    text = path.read_text(encoding="utf-8")
    bom = "\ufeff" if text.startswith("\ufeff") else ""  # kept as the editor wrote it
    doc = tomlkit.parse(text.removeprefix(bom))
    table = doc.get("edge_compute")
    if table is None:
        table = tomlkit.table()
        doc.add("edge_compute", table)
    table["func_id"] = func_id
    table["func_name"] = func_name
    path.write_text(bom + tomlkit.dumps(doc), encoding="utf-8")
