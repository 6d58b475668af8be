"""The environment variables telnyx-edge reads: read in one place, validated once, typed.

`get()` reads `os.environ`, checks every variable below and returns a frozen `Settings`; a bad
value is a `ConfigError` listing every problem (exit 3), raised where the settings are first
used, instead of a value silently replaced by its default. The result is cached per distinct
set of values, so a process (or a test) that changes one gets it validated again.

| Variable | Meaning | Default |
| --- | --- | --- |
| `TELNYX_EDGE_HOME` | the account's folder | `~/.telnyx-edge` |
| `TELNYX_EDGE_NODE_PACKAGES` | the runtime's Node packages folder | under the home |
| `TELNYX_EDGE_METHOD_TIMEOUT_MS` | wall-clock budget of one actor call, 100 ms to 1 day | 30000 |
| `TELNYX_EDGE_IDLE_MS` | how long an unused activation stays in memory, 1 ms to 1 day | 120000 |
| `TELNYX_EDGE_STARTUP_TIMEOUT_MS` | how long an isolate may take to load its bundle, 1 ms to 1 day | 10000 |
| `TELNYX_EDGE_ALARM_RETRY_DELAY_MS` | first delay before an alarm is retried, 0 ms to 1 day | 1000 |
| `TELNYX_EDGE_NODE_FLAGS` | extra flags for the isolates' `node` (shell words) | none |
| `TELNYX_EDGE_WORKERS` | Worker threads per function revision, 1 to 64 | one per CPU |
| `TELNYX_EDGE_WS_LIFETIME_MS` | how long one WebSocket connection may live (then closed, 1006), 1 ms to 1 day | 300000 |
"""

from __future__ import annotations

import functools
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from telnyx_edge.errors import ConfigError

HOME = "TELNYX_EDGE_HOME"
NODE_PACKAGES = "TELNYX_EDGE_NODE_PACKAGES"
METHOD_TIMEOUT_MS = "TELNYX_EDGE_METHOD_TIMEOUT_MS"
IDLE_MS = "TELNYX_EDGE_IDLE_MS"
STARTUP_TIMEOUT_MS = "TELNYX_EDGE_STARTUP_TIMEOUT_MS"
ALARM_RETRY_DELAY_MS = "TELNYX_EDGE_ALARM_RETRY_DELAY_MS"
NODE_FLAGS = "TELNYX_EDGE_NODE_FLAGS"
WORKERS = "TELNYX_EDGE_WORKERS"
WS_LIFETIME_MS = "TELNYX_EDGE_WS_LIFETIME_MS"
MAX_WORKERS = 64

MIN_METHOD_TIMEOUT_MS = 100
MAX_MS = 86_400_000  # one day: every budget is a JavaScript timer too (at most 2^31-1 ms)

_NAMES = (HOME, NODE_PACKAGES, METHOD_TIMEOUT_MS, IDLE_MS, STARTUP_TIMEOUT_MS, ALARM_RETRY_DELAY_MS, NODE_FLAGS, WORKERS, WS_LIFETIME_MS)


@dataclass(frozen=True)
class Settings:
    home: Path
    node_packages: Path | None
    method_timeout_ms: int
    idle_ms: int
    startup_timeout_ms: int
    alarm_retry_delay_ms: int
    node_flags: tuple[str, ...]
    workers: int | None  # None: one per CPU
    ws_lifetime_ms: int = 300_000  # spec 3.9: "at most about five minutes"

    @property
    def startup_timeout_s(self) -> float:
        return self.startup_timeout_ms / 1000

    @property
    def alarm_retry_delay_s(self) -> float:
        return self.alarm_retry_delay_ms / 1000


def get() -> Settings:
    """The settings of the current environment (validated; cached per distinct values)."""
    return _load(tuple(os.environ.get(name) for name in _NAMES))


def load(environ: Mapping[str, str]) -> Settings:
    """The settings that `environ` gives; raises ConfigError listing every bad variable."""
    return _load(tuple(environ.get(name) for name in _NAMES))


@functools.lru_cache(maxsize=8)
def _load(values: tuple[str | None, ...]) -> Settings:
    raw = dict(zip(_NAMES, values))
    problems: list[str] = []

    def path(name: str) -> Path | None:
        value = raw[name]
        if value is None or value == "":
            return None
        if "\x00" in value or not value.strip():
            problems.append(f"{name}: {value!r} is not a path")
            return None
        return Path(value).expanduser()

    def number(name: str, default: int, minimum: int, maximum: int, unit: str) -> int:
        value = raw[name]
        if value is None or value.strip() == "":
            return default
        text = value.strip()
        if not text.isascii() or not text.isdigit():
            problems.append(f"{name}: {value!r} must be a whole number{' of ' + unit if unit != 'threads' else ''}")
            return default
        result = int(text)
        if not minimum <= result <= maximum:
            problems.append(f"{name}: {result} is out of range ({minimum} to {maximum}{' ms' if unit == 'milliseconds' else ''})")
            return default
        return result

    def millis(name: str, default: int, minimum: int) -> int:
        return number(name, default, minimum, MAX_MS, "milliseconds")

    home = path(HOME) or Path.home() / ".telnyx-edge"
    packages = path(NODE_PACKAGES)
    method = millis(METHOD_TIMEOUT_MS, 30_000, MIN_METHOD_TIMEOUT_MS)
    idle = millis(IDLE_MS, 120_000, 1)
    startup = millis(STARTUP_TIMEOUT_MS, 10_000, 1)
    retry = millis(ALARM_RETRY_DELAY_MS, 1_000, 0)
    try:
        flags = tuple(shlex.split(raw[NODE_FLAGS] or ""))
    except ValueError as exc:
        problems.append(f"{NODE_FLAGS}: {exc} (shell words, quoted as in a shell)")
        flags = ()
    workers = number(WORKERS, 0, 1, MAX_WORKERS, "threads") or None
    ws_lifetime = millis(WS_LIFETIME_MS, 300_000, 1)
    if problems:
        count = len(problems)
        raise ConfigError(
            f"{count} environment variable{'s are' if count != 1 else ' is'} not valid",
            problems=problems,
            hint="Fix or unset the variable(s) named above (see docs/cli.md, Environment).",
        )
    return Settings(home, packages, method, idle, startup, retry, flags, workers, ws_lifetime)
