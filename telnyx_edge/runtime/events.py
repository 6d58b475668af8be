"""What the runtime reports while it runs. Core modules never print: they hand these to a
reporter the CLI supplies, and the CLI turns them into stable lines tests can wait on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Ready:
    url: str


@dataclass(frozen=True)
class Reloaded:
    elapsed_ms: float


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
class Stopping:
    pass


Event = Ready | Reloaded | ReloadFailed | IsolateReplaced | Unavailable | Unresolved | Stopping
Reporter = Callable[[Event], None]
