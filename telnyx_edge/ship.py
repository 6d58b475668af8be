"""`ship`: config -> bundle -> load check -> ownership rules -> an immutable revision.

Roles come from the bundle, not from the source: a binding is the *owner* of its actor type
when the bundle exports a class of that name, otherwise a *reference* whose calls route to
the type's owner on the account. Because esbuild bundles only the module graph rooted at
`main`, a class nothing imports (or imports only as a type) is not shipped.

Nothing is recorded on the account unless the whole ship succeeds, except the function's
status `build_failed` when esbuild fails. The ownership rules are checked again inside the
account's write transaction, so two ships racing for one type cannot both own it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telnyx_edge import bundle, config, outdir as outputs
from telnyx_edge.account import (
    BUILD_FAILED,
    OWNER,
    REFERENCE,
    AccountBackend,
    FunctionRecord,
    RevisionRecord,
)
from telnyx_edge.errors import AccountError, BundleError, OwnershipError, ShipError, UsageError
from telnyx_edge.shipcheck import ACTOR, LoadReport, load_check

BUILD_DIR = Path(".telnyx") / "build"
MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = 1
DEFAULT_TIMEOUT = "5m0s"

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class ShipBinding:
    binding: str
    type: str
    role: str  # OWNER or REFERENCE


@dataclass(frozen=True)
class ShipResult:
    name: str
    bundle: bundle.BundleResult
    gzip_size: int
    bindings: tuple[ShipBinding, ...]
    manifest: dict[str, Any]
    outdir: Path
    warnings: tuple[str, ...]
    record: FunctionRecord | None = None  # None on a dry run
    revision: RevisionRecord | None = None

    @property
    def files(self) -> tuple[str, ...]:
        """Source files in the bundle's module graph (what was collected for shipping)."""
        return tuple(sorted(self.bundle.metafile.get("inputs", {})))


def parse_duration(text: str) -> float:
    """A Go duration (`5m0s`, `300s`, `1h30m`, `1.5m`) in seconds."""
    value = text.strip()
    if value == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(value):
        match = _DURATION_PART.match(value, position)
        if match is None:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not value or position != len(value):
        raise UsageError(
            f"Invalid duration {text!r} for --timeout",
            hint="Use a Go duration such as 2m, 300s, 5m0s or 1h30m.",
        )
    return total


def parse_timeout(text: str) -> float:
    """`--timeout` in seconds: a Go duration above zero. Zero (`0`, `0s`) is refused rather than
    read as "no timeout": a ship that may never stop is not what the flag is for."""
    seconds = parse_duration(text)
    if seconds <= 0:
        raise UsageError(
            f"--timeout {text.strip()} is zero: a ship needs a time limit above zero",
            hint=f"Pass a positive Go duration such as 2m or 10m (the default is {DEFAULT_TIMEOUT}).",
        )
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as Go prints a duration: `5m0s`, `1h30m0s`, `2.5s`, `500ms`, `1µs`."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        for unit, scale in (("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
            if seconds >= scale:
                return f"{seconds / scale:.6g}{unit}"
        return f"{seconds / 1e-9:.6g}ns"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.9g}s"
    if hours or minutes:
        text = f"{int(minutes)}m{text}"
    if hours:
        text = f"{int(hours)}h{text}"
    return text


def plan_bindings(actors: tuple[config.ActorBinding, ...], exports: tuple[str, ...]) -> tuple[ShipBinding, ...]:
    """Each binding's role: owner when the bundle exports a class named like its type."""
    exported = set(exports) - {"default"}
    return tuple(
        ShipBinding(a.binding, a.type, OWNER if a.type in exported else REFERENCE) for a in actors
    )


def ownership_problems(
    bindings: tuple[ShipBinding, ...], func_id: str, owners: dict[str, FunctionRecord]
) -> list[str]:
    """What the account's current type owners forbid about shipping `bindings` as `func_id`."""
    problems: list[str] = []
    for b in bindings:
        owner = owners.get(b.type)
        if b.role == OWNER and owner is not None and owner.id != func_id:
            problems.append(
                f"binding {b.binding}: type {b.type} is already owned by function '{owner.name}' "
                f"({owner.id}); only one function may ship class {b.type}"
            )
        elif b.role == REFERENCE and (owner is None or owner.id == func_id):
            problems.append(
                f"binding {b.binding}: type {b.type} has no owner on this account; "
                f"ship the function that exports class {b.type} first"
            )
    return problems


def check_ownership(bindings: tuple[ShipBinding, ...], func_id: str, owners: dict[str, FunctionRecord]) -> None:
    problems = ownership_problems(bindings, func_id, owners)
    if not problems:
        return
    taken = any("already owned" in p for p in problems)
    raise OwnershipError(
        problems[0],
        details=problems[1:],
        hint=(
            "Stop exporting the class from main to make this binding a reference, or delete the other owner first."
            if taken
            else "Ship the owner first (its main exports the class), or correct `type` in telnyx.toml."
        ),
    )


def ship(
    directory: Path, account: AccountBackend | None, *, dry_run: bool = False,
    outdir: Path | None = None, timeout: float = 300.0,
) -> ShipResult:
    """Bundle the project in `directory` and (unless `dry_run`) deploy it as a new revision."""
    if timeout <= 0:
        raise UsageError(f"timeout {timeout!r} s is not above zero", hint="Pass a positive timeout in seconds.")
    deadline = time.monotonic() + timeout
    if outdir is not None:
        check_outdir(outdir)
    manifest = config.load_manifest(directory)
    if manifest.kind != "umbrella" or manifest.main is None:
        raise ShipError(
            f"{manifest.path.name}: only umbrella projects (telnyx.toml with main) are shipped locally",
            hint="Classic func.toml functions are built by the platform; convert the project to telnyx.toml to ship it here.",
        )
    record = None if dry_run else _function_on_account(manifest, account)
    warnings = list(manifest.warnings)
    if record is not None and record.name != manifest.display_name:
        warnings.append(
            f"telnyx.toml names the function '{manifest.display_name}', but func_id {record.id} is "
            f"'{record.name}' on the account; shipping to '{record.name}'"
        )
    if outdir is not None:
        outputs.check_placement(outdir, manifest.root, manifest.main)
    target = (outdir if outdir is not None else manifest.root / BUILD_DIR).resolve()
    # `rm -rf .telnyx` is folk wisdom for the real CLI: a stale bundle must never be shipped.
    outputs.prepare(target, own=outdir is None)
    try:
        built = bundle.build(manifest.root, manifest.main, target, timeout=_remaining(deadline, timeout))
    except BundleError:
        _remaining(deadline, timeout)  # out of time: say so, and it is not a build failure
        if record is not None and account is not None:
            account.set_status(record.id, BUILD_FAILED)
        raise
    warnings.extend(built.warnings)
    bindings = plan_bindings(manifest.actors, built.exports)
    try:
        report = load_check(built.js_path, timeout=min(30.0, _remaining(deadline, timeout)))
    except ShipError:
        _remaining(deadline, timeout)
        raise
    warnings.extend(_check_exports(bindings, report, built))
    gz = bundle.gzip_size(built.js_path)
    ship_manifest = _ship_manifest(manifest, record, built, bindings, gz)
    (target / MANIFEST_NAME).write_text(json.dumps(ship_manifest, indent=2, sort_keys=True), encoding="utf-8")
    name = record.name if record is not None else manifest.display_name
    if record is None or account is None:
        return ShipResult(name, built, gz, bindings, ship_manifest, target, tuple(warnings))
    func_id = record.id
    warnings.extend(_orphaned_references(account, func_id, bindings))
    files = {
        bundle.BUNDLE_NAME: built.js_path.read_bytes(),
        bundle.MAP_NAME: built.map_path.read_bytes(),
        bundle.META_NAME: built.meta_path.read_bytes(),
    }
    revision = account.deploy(
        func_id, files, ship_manifest, check=lambda owners: check_ownership(bindings, func_id, owners)
    )
    return ShipResult(
        name, built, gz, bindings, ship_manifest, target, tuple(warnings),
        record=account.resolve(func_id), revision=revision,
    )


def check_inputs(directory: Path, outdir: Path | None) -> None:
    """What `ship` checks before it installs or writes anything: `--outdir`, then the manifest,
    then where `--outdir` lies against it (`outdir.check_placement`)."""
    if outdir is not None:
        check_outdir(outdir)
    manifest = config.load_manifest(directory)
    if outdir is not None and manifest.main is not None:
        outputs.check_placement(outdir, manifest.root, manifest.main)


def check_outdir(outdir: Path) -> None:
    """`--outdir` must be a directory or a path one can be created at (checked before any write)."""
    if not str(outdir).strip():
        raise UsageError("--outdir is empty", hint="Pass a directory, e.g. --outdir build (created if missing).")
    for path in (outdir, *outdir.parents):
        if path.exists() and not path.is_dir():
            what = f"--outdir {outdir}" if path == outdir else f"--outdir {outdir}: {path}"
            raise UsageError(
                f"{what} is a file, not a directory",
                hint="Pass a directory for the bundle, map, metafile and manifest (it is created if missing).",
            )
        if path.is_dir():
            return


def rollback(account: AccountBackend, ref: str, revision_id: str) -> tuple[FunctionRecord, RevisionRecord]:
    """Serve an earlier deploy_ok revision of `ref` again, under the same ownership rules."""
    record = account.resolve(ref)
    target = account.revision(record.id, revision_id)
    bindings = tuple(
        ShipBinding(str(a["binding"]), str(a["type"]), str(a.get("role", OWNER)))
        for a in target.manifest.get("actors", [])
    )
    updated = account.rollback(
        record.id, target.id, check=lambda owners: check_ownership(bindings, record.id, owners)
    )
    return updated, target


def _orphaned_references(
    account: AccountBackend, func_id: str, bindings: tuple[ShipBinding, ...]
) -> list[str]:
    """Types this function owns now but not in the new revision, while others still reference them."""
    owned_now = {b.type for b in bindings if b.role == OWNER}
    dropped = sorted(t for t, rec in account.owners().items() if rec.id == func_id and t not in owned_now)
    warnings = []
    for type_ in dropped:
        users = [f"'{r.name}'" for r in account.referrers(type_) if r.id != func_id]
        if users:
            warnings.append(
                f"type {type_} has no owner after this ship, but functions still reference it: {', '.join(users)}; "
                f"those bindings will not resolve until a function ships class {type_}"
            )
    return warnings


def _remaining(deadline: float, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ShipError(
            f"Shipping did not finish within the --timeout of {format_duration(timeout)}",
            hint="Raise --timeout (a Go duration, e.g. -t 10m).",
        )
    return min(left, bundle.DEFAULT_TIMEOUT)


def _function_on_account(manifest: config.Manifest, account: AccountBackend | None) -> FunctionRecord:
    if manifest.func_id is None and manifest.func_id_placeholder is not None:
        raise ShipError(
            f"func_id {manifest.func_id_placeholder!r} in {manifest.path.name} is a placeholder, not a function id",
            hint="Create the function with 'telnyx-edge new-func --actor --name=NAME' and copy its func_id into [edge_compute].",
        )
    if manifest.func_id is None:
        raise ShipError(
            f"{manifest.path.name} has no [edge_compute] func_id, so there is no function to ship to",
            hint="Create the function with 'telnyx-edge new-func --actor --name=NAME' and copy its [edge_compute] block here.",
        )
    assert account is not None, "a real ship needs an account"
    record = account.find(manifest.func_id)
    if record is None or record.id != manifest.func_id:
        raise AccountError(
            f"func_id {manifest.func_id} in {manifest.path.name} is not on this account ({account.home})",
            hint="Check TELNYX_EDGE_HOME, or register the function with 'telnyx-edge new-func' and use its func_id.",
        )
    return record


def _check_exports(bindings: tuple[ShipBinding, ...], report: LoadReport, built: bundle.BundleResult) -> list[str]:
    """Errors for what cannot run; warnings for what is probably a mistake."""
    if report.default_fetch != "function":
        raise ShipError(
            "main has no default export with a fetch method",
            hint="Export the front door from main: export default { async fetch(req, env) { ... } }",
        )
    for b in bindings:
        kind = report.exports.get(b.type)
        if b.role == OWNER and kind != ACTOR:
            raise ShipError(
                f"binding {b.binding}: main exports {b.type}, but it is {_kind_phrase(kind)}, not a class extending StatefulActor",
                hint=f"Declare it as: export class {b.type} extends StatefulActor {{ ... }}",
            )
    warnings: list[str] = []
    types = {b.type for b in bindings}
    for name in report.classes():
        if name not in types:
            warnings.append(
                f"main exports class {name}, which no [[actors]] type names; it is shipped but no binding reaches it"
            )
    source = built.js_path.read_text(encoding="utf-8", errors="replace")
    for b in bindings:
        name = re.escape(b.type)
        if b.role == REFERENCE and re.search(rf"\bclass\s+{name}\b|\b{name}\s*=\s*class\b", source):
            warnings.append(
                f"binding {b.binding}: the bundle contains class {b.type} without exporting it; "
                "a reference function should import the class only as a type"
            )
    return warnings


def _kind_phrase(kind: str | None) -> str:
    return {None: "missing", "class": "a class", "function": "a function", "object": "an object"}.get(kind, f"a {kind}")


def _ship_manifest(
    manifest: config.Manifest, record: FunctionRecord | None, built: bundle.BundleResult,
    bindings: tuple[ShipBinding, ...], gzip_size: int,
) -> dict[str, Any]:
    """What a revision records besides its files; `actors` is what `inspect` and the runtime read."""
    data = built.js_path.read_bytes()
    return {
        "schema": MANIFEST_SCHEMA,
        "name": record.name if record is not None else manifest.display_name,
        "func_id": record.id if record is not None else manifest.func_id,
        "main": manifest.main,
        "compatibility_date": manifest.compatibility_date,
        "bundle": bundle.BUNDLE_NAME,
        "source_map": bundle.MAP_NAME,
        "metafile": bundle.META_NAME,
        "size": len(data),
        "gzip_size": gzip_size,
        "sha256": hashlib.sha256(data).hexdigest(),
        "exports": list(built.exports),
        "inputs": sorted(built.metafile.get("inputs", {})),
        "actors": [{"binding": b.binding, "type": b.type, "role": b.role} for b in bindings],
        "secrets": [{"binding": s.binding, "name": s.name} for s in manifest.secrets],
        "platform_bindings": [p.as_dict() for p in manifest.platform_bindings],
        "env_vars": dict(manifest.env_vars),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
