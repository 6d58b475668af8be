"""Records of the account: functions and their revisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOCAL_EDGE_PORT = 8788

# Status vocabulary of the platform (spec 1.5).
CREATED = "created"
DEPLOY_OK = "deploy_ok"
BUILD_FAILED = "build_failed"
DEPLOY_FAILED = "deploy_failed"

# Roles of an [[actors]] binding in a shipped revision's manifest.
OWNER = "owner"  # the bundle exports the class named by `type`
REFERENCE = "reference"  # it does not: calls route to the type's owner on the account


@dataclass(frozen=True)
class FunctionRecord:
    id: str
    name: str
    status: str
    directory: str
    kind: str  # "umbrella" (telnyx.toml) or "classic" (func.toml)
    created_at: str
    updated_at: str
    serving_revision: str | None = None

    @property
    def host(self) -> str:
        """The host name the local edge routes to this function."""
        return f"{self.name}-{self.id[:10]}.localhost"

    def url(self, port: int = LOCAL_EDGE_PORT) -> str:
        return f"http://{self.host}:{port}"


@dataclass(frozen=True)
class RevisionRecord:
    id: str
    func_id: str
    created_at: str
    status: str
    path: str  # directory holding the bundle, source map and manifest
    manifest: dict[str, Any]
