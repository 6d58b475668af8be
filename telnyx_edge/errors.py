"""The one error hierarchy of telnyx-edge.

Core modules raise these; only the CLI turns them into a message and an exit code
(`telnyx_edge.cli.app.run`). Each class carries its own exit code and an optional hint,
the one-line fix shown under the message.
"""

from __future__ import annotations


class EdgeError(Exception):
    """Base of every error that is the user's to fix (bad input, missing tool, ...)."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(EdgeError):
    """A flag or argument that cannot be used as given."""

    exit_code = 2


class ConfigError(EdgeError):
    """A manifest (`telnyx.toml` / `func.toml`) that is missing, unreadable or invalid."""

    exit_code = 3

    def __init__(
        self, message: str, *, problems: list[str] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems: list[str] = problems or []


class ScaffoldError(EdgeError):
    """A project could not be created (bad name, destination in the way, ...)."""

    exit_code = 4


class ToolNotFound(EdgeError):
    """An external program (node, npm, esbuild) is missing or too old."""

    exit_code = 5


class InstallError(EdgeError):
    """`npm install` failed; the project stays in place."""

    exit_code = 6


class AccountError(EdgeError):
    """The local account refused an operation (unknown function, duplicate name, ...)."""

    exit_code = 7


class RevisionDamagedError(AccountError):
    """A shipped revision whose bundle is missing, unreadable, or no longer the bytes `ship`
    recorded (their sha256): it is not loaded. Shipping again records a new, whole revision."""


class BundleError(EdgeError):
    """esbuild failed or its output breaks a shipping rule."""

    exit_code = 8

    def __init__(
        self, message: str, *, details: list[str] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.details: list[str] = details or []


class ShipError(EdgeError):
    """A bundle that built but may not be deployed (ownership rules, load check)."""

    exit_code = 9


class RuntimeStartError(EdgeError):
    """The local runtime could not start (port in use, unresolved actor type, ...)."""

    exit_code = 10


class RuntimeStateError(EdgeError):
    """The runtime's state directory cannot be created or written, or was removed or replaced
    while the runtime ran (it stopped)."""

    exit_code = 11


class OwnershipError(ShipError):
    """`[[actors]]` roles that the account's type owners do not allow (no owner, a second owner)."""

    def __init__(
        self, message: str, *, details: list[str] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.details: list[str] = details or []


# -- faults inside the runtime --------------------------------------------------------------
# Not the user's to fix, so not EdgeErrors: the runtime handles them (replaces an isolate,
# answers the request with an error) and the CLI never shows them as a `❌` line.


class ProtocolError(Exception):
    """The other end of a runtime pipe sent something that is not a frame of its protocol
    (`runtime/protocol.py`): the connection is dropped and the isolate replaced."""


# Names of runtime failures the control plane produces or branches on; the data plane's list of
# every name is NAMES in runtime/js/errors.mjs (tests/unit/test_runtime_errors.py checks these are in it).
ISOLATE_CRASHED = "ActorIsolateCrashedError"
STARTUP_ERROR = "StartupError"
STARTUP_TIMEOUT = "StartupTimeout"


class CallError(Exception):
    """A failed call inside the runtime, with the error `name` the caller branches on (e.g.
    ActorMethodError, ActorIsolateCrashedError); not an EdgeError: the runtime answers it (an
    HTTP status, a retried alarm) rather than the CLI."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class ExplorerError(Exception):
    """A request the explorer's API refuses (telnyx_edge/explorer): answered with `status` and a
    one-line JSON error `{"error": error, "message": message}`; the CLI never shows it as such."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}")
        self.status = status
        self.error = error
        self.message = message
