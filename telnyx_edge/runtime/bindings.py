"""The platform bindings of a function, resolved against the local account for one isolate.

Input: a function's declarations as `ship` stores them in a revision's manifest (`secrets`,
`platform_bindings`, `env_vars`; `declarations()` makes the same from a `telnyx.toml`). Output:
what the isolate needs to build `env` (`runtime/js/bindings/index.mjs`) and the variables
added to its process environment (spec 2.3: every account secret and every `[env_vars]` key).

| declaration                        | env.NAME                | local data                                   |
| `[[secrets]]` (env.SECRETS)        | `get(handle)`           | `$TELNYX_EDGE_HOME/secrets.json`             |
| `[storage.kv.NAME] id`             | KvNamespace             | `$TELNYX_EDGE_HOME/storage/kv/<id>.sqlite`    |
| `[storage.sqldb.NAME] id`          | SqlDatabase             | `$TELNYX_EDGE_HOME/storage/sqldb/<id>.sqlite` |
| `[storage.cloudstorage.NAME]`      | CloudStorageBucket      | `$TELNYX_EDGE_HOME/storage/buckets/<bucket>/` |
| `[[ratelimits]] name limit period` | RateLimiter             | `<runtime state>/ratelimits.sqlite`          |
| `[telnyx] binding`                 | a `telnyx` API client   | built by the isolate (js/bindings/telnyx.mjs) |

Secret values reach the isolate over its control socket and its environment only; they are
never part of an event, a log line or an error message.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from telnyx_edge import config
from telnyx_edge.account.namespaces import Catalog, Kind, bucket_path, is_uuid
from telnyx_edge.account.secrets import SecretStore
from telnyx_edge.errors import AccountError, ConfigError, EdgeError

RATELIMITS_FILE = "ratelimits.sqlite"
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


@dataclass(frozen=True)
class BindingSources:
    """Where bindings find their data."""

    home: Path  # the account: secrets, KV namespaces, SQL databases, buckets
    state_dir: Path  # the runtime's own state: rate limiter windows (shared by its functions)
    overrides: Mapping[str, str] = field(default_factory=dict)  # `dev --env-file`: values for one run
    strict: bool = True  # raise for a bad declaration (dev); else env.NAME throws naming it (serve)


@dataclass(frozen=True)
class ResolvedBindings:
    # Both hold secret values: kept out of repr.
    platform: dict[str, Any] = field(repr=False)  # the isolate config's "platform" entry
    process_env: dict[str, str] = field(repr=False)  # added to the isolate's environment
    env_vars: dict[str, str]  # [env_vars] with --env-file overrides applied (env.NAME)
    notices: tuple[str, ...] = ()  # e.g. a [[secrets]] name that is not set


def declarations(manifest: config.Manifest) -> dict[str, Any]:
    """A manifest's bindings in the form a shipped revision records them."""
    return {
        "secrets": [{"binding": s.binding, "name": s.name} for s in manifest.secrets],
        "platform_bindings": [p.as_dict() for p in manifest.platform_bindings],
        "env_vars": dict(manifest.env_vars),
    }


_PLACEHOLDERS = uuid.UUID("6f1c0b7e-5a2d-4c1e-9b3f-7e0d2a4c8b91")  # uuid5 namespace for placeholder ids


def resolve(declared: Mapping[str, Any], sources: BindingSources) -> ResolvedBindings:
    """Resolve declarations against the account; raises ConfigError (strict) for a bad one."""
    # Absolute paths: the isolate must find the same files whatever its working directory.
    sources = replace(sources, home=sources.home.resolve(), state_dir=sources.state_dir.resolve())
    overrides = dict(sources.overrides)
    account_secrets = SecretStore(sources.home).values()
    secrets = {**account_secrets, **overrides}
    raw_env = declared.get("env_vars") or {}
    env_vars = {str(k): overrides.get(str(k), str(v)) for k, v in raw_env.items()}
    platform: dict[str, Any] = {
        "secrets": None, "secret_values": {}, "kv": {}, "sqldb": {}, "buckets": {}, "ratelimits": {},
        "unavailable": {},
    }
    notices: list[str] = []
    handles = {str(s["binding"]): str(s["name"]).upper() for s in declared.get("secrets", [])}
    if handles:
        platform["secrets"] = handles
        platform["secret_values"] = {name: secrets[name] for name in set(handles.values()) if name in secrets}
        for handle, name in sorted(handles.items()):
            if name not in secrets:
                notices.append(
                    f"secret {name} (env.SECRETS.get(\"{handle}\")) is not set: "
                    f"run telnyx-edge secrets add {name} VALUE, or pass it with dev --env-file"
                )
    catalog = Catalog(sources.home)
    for entry in declared.get("platform_bindings", []):
        binding, kind = str(entry["binding"]), str(entry["kind"])
        try:
            try:
                _resolve_one(platform, catalog, sources, binding, kind, entry, notices)
            except (OSError, sqlite3.Error) as exc:
                raise AccountError(
                    f"{kind}.{binding}: cannot open its data under {sources.home}: {exc}",
                    hint="Check that TELNYX_EDGE_HOME points at a writable directory.",
                ) from exc
        except EdgeError as exc:
            if sources.strict:
                raise
            platform["unavailable"][binding] = f"env.{binding} is unavailable: {exc.message}"
    process_env = {**secrets, **env_vars, **overrides}
    return ResolvedBindings(
        platform=platform,
        process_env=process_env,
        env_vars=env_vars,
        notices=tuple(notices),
    )


def _resolve_one(
    platform: dict[str, Any], catalog: Catalog, sources: BindingSources, binding: str, kind: str,
    entry: Mapping[str, Any], notices: list[str],
) -> None:
    if kind in ("storage.kv", "storage.sqldb"):
        short: Kind = "kv" if kind == "storage.kv" else "sqldb"
        id_ = str(entry.get("id", ""))
        if not is_uuid(id_):
            # Example projects ship with placeholders ("<kv-namespace-uuid>"): run them on a
            # local namespace named after the placeholder, and say what the platform will need.
            local = str(uuid.uuid5(_PLACEHOLDERS, f"{short}:{id_}"))
            notices.append(
                f"{kind}.{binding}.id: {id_!r} is not a UUID; locally its data lives in {short} namespace {local} "
                f"(to ship, create one with 'telnyx-edge storage {short} create --name NAME' and put its id in telnyx.toml)"
            )
            id_ = local
        record = catalog.ensure(short, id_, binding)
        platform[short][binding] = {"id": record.id, "name": record.name, "path": str(record.path)}
    elif kind == "storage.cloudstorage":
        bucket = str(entry.get("bucket_name", ""))
        try:
            path = bucket_path(sources.home, bucket)
        except EdgeError as exc:
            raise ConfigError(f"{kind}.{binding}.bucket_name: {exc.message}", hint=exc.hint) from None
        path.mkdir(parents=True, exist_ok=True)
        platform["buckets"][binding] = {"bucket": bucket, "region": entry.get("region"), "path": str(path)}
    elif kind == "ratelimits":
        sources.state_dir.mkdir(parents=True, exist_ok=True)
        platform["ratelimits"][binding] = {
            "limit": int(entry["limit"]), "period": int(entry["period"]),
            "path": str(sources.state_dir / RATELIMITS_FILE),
        }
    # `[telnyx]` is not resolved here: the isolate builds its API client (js/bindings/telnyx.mjs).


def read_env_file(path: Path) -> dict[str, str]:
    """A dotenv file: `KEY=value` lines, `export ` allowed, `#` comments, '...' literal and
    "..." with \\n \\t \\" \\\\ escapes. A malformed line is an error naming its number (never its value)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read --env-file {path}: {exc}", hint="Pass a readable UTF-8 dotenv file.") from exc
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        value = _env_value(match.group(2)) if match else None
        if match is None or value is None:
            raise ConfigError(
                f"{path}:{number}: not a KEY=value line",
                hint="Each line is NAME=value (NAME: letters, digits, _); quote values with spaces or #.",
            )
        values[match.group(1)] = value
    return values


def _env_value(raw: str) -> str | None:
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = raw.find(quote, 1)
        while quote == '"' and end > 0 and raw[end - 1] == "\\" and not raw[:end].endswith("\\\\"):
            end = raw.find(quote, end + 1)
        if end < 0 or (raw[end + 1:].strip() and not raw[end + 1:].strip().startswith("#")):
            return None
        body = raw[1:end]
        if quote == "'":
            return body
        escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
        return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), "\\" + m.group(1)), body)
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()
