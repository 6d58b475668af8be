"""What every account backend offers; the CLI and core modules depend only on this."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable
from typing import Any, Protocol

from telnyx_edge.account.models import FunctionRecord, RevisionRecord


class AccountBackend(Protocol):
    @property
    def home(self) -> Path: ...

    def register(self, name: str, directory: Path, kind: str) -> FunctionRecord: ...

    def resolve(self, ref: str) -> FunctionRecord: ...

    def find(self, ref: str) -> FunctionRecord | None: ...

    def functions(self) -> list[FunctionRecord]: ...

    def delete(self, func_id: str) -> None: ...

    def set_status(self, func_id: str, status: str) -> FunctionRecord: ...

    def add_revision(
        self, func_id: str, files: dict[str, bytes], manifest: dict[str, Any], status: str = "deploy_ok"
    ) -> RevisionRecord: ...

    def revisions(self, func_id: str) -> list[RevisionRecord]: ...

    def revision(self, func_id: str, revision_id: str) -> RevisionRecord: ...

    def set_serving(self, func_id: str, revision_id: str) -> FunctionRecord: ...

    def owners(self) -> dict[str, FunctionRecord]:
        """Actor type -> the function whose serving revision owns it."""
        ...

    def referrers(self, type_: str) -> list[FunctionRecord]:
        """Functions whose serving revision binds `type_` as a reference."""
        ...

    def deploy(
        self, func_id: str, files: dict[str, bytes], manifest: dict[str, Any],
        check: Callable[[dict[str, FunctionRecord]], None] | None = None,
    ) -> RevisionRecord:
        """Atomically: `check(owners)`, store a deploy_ok revision, serve it, mark the function deploy_ok."""
        ...

    def rollback(
        self, func_id: str, revision_id: str, check: Callable[[dict[str, FunctionRecord]], None] | None = None
    ) -> FunctionRecord:
        """Serve an earlier deploy_ok revision again (after `check(owners)`, atomically)."""
        ...
