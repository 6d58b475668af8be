"""What the runtime reports while it runs. Core modules never print: they hand these to a
reporter the CLI supplies, and the CLI turns them into stable lines tests can wait on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ready:
    url: str
    functions: tuple[tuple[str, str], ...] = ()  # (function name, its URL) when several are served
    explorer: str = ""  # the explorer's URL ("" when --no-explorer)


@dataclass(frozen=True)
class FunctionReloaded:
    """`serve` swapped in a function's new serving revision (a ship or a rollback)."""

    function: str
    revision: str
    url: str
    elapsed_ms: float
    added: bool = False


@dataclass(frozen=True)
class Notice:
    """Something the user should know that does not stop the runtime (e.g. manifest warnings)."""

    message: str


@dataclass(frozen=True)
class FunctionRemoved:
    """`serve` stopped serving a function that is no longer deployed (deleted, or not deploy_ok)."""

    function: str


@dataclass(frozen=True)
class Reloaded:
    elapsed_ms: float
    function: str = ""  # set when dev reloaded a --with project rather than the main one


@dataclass(frozen=True)
class FunctionFailed:
    """`serve` could not start one function (its bundle is missing or changed since ship, its
    revision throws while loading, ...): the others are served without it, and a new ship or a
    rollback of it is picked up as usual."""

    function: str
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class ReloadFailed:
    message: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class IsolateReplaced:
    function: str
    reason: str


@dataclass(frozen=True)
class Unavailable:
    """Bindings the platform provides that a local runtime cannot (secrets, storage, ...)."""

    bindings: tuple[tuple[str, str], ...]  # (binding, kind)


@dataclass(frozen=True)
class Unresolved:
    """Actor types a function binds to but no function owns: calls fail with ActorTypeNotFoundError."""

    function: str
    types: tuple[str, ...]


@dataclass(frozen=True)
class StateMigrated:
    """Actor state from the old single-file engine was moved into per-actor databases (once)."""

    actors: int
    state_dir: str


@dataclass(frozen=True)
class IndexRebuilding:
    """The last runtime on this state directory did not stop cleanly: the instance index is being
    rebuilt from every actor database (a second or so per few thousand actors)."""

    state_dir: str


@dataclass(frozen=True)
class Logged:
    """A batch of what the data plane recorded (js/logrecords.mjs), oldest first: request lines,
    actor invocations, user output. Already kept in the log store (runtime/logstore.py)."""

    records: list[list[Any]]


@dataclass(frozen=True)
class InspectorOpen:
    """The Node inspector of the data plane listens at `url` (dev/serve --inspect)."""

    url: str


@dataclass(frozen=True)
class Stopping:
    pass


@dataclass(frozen=True)
class ForcedExit:
    """A second Ctrl-C/SIGTERM while stopping: the process exits at once."""


Event = Logged | FunctionFailed | InspectorOpen | ForcedExit | Notice | Ready | FunctionReloaded | FunctionRemoved | Reloaded | ReloadFailed | IsolateReplaced | Unavailable | Unresolved | StateMigrated | IndexRebuilding | Stopping
Reporter = Callable[[Event], None]
