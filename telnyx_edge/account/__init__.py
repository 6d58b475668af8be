"""The account: functions, func_ids, revisions and actor-type ownership.

`open_account()` returns the local SQLite backend under `$TELNYX_EDGE_HOME`
(default `~/.telnyx-edge`). Callers depend on `AccountBackend`, so another backend
(the real Telnyx API) can stand behind the same interface.
"""

from telnyx_edge.account.backend import AccountBackend
from telnyx_edge.account.local import LocalAccount, edge_home, open_account
from telnyx_edge.account.models import (
    BUILD_FAILED,
    CREATED,
    DEPLOY_FAILED,
    DEPLOY_OK,
    LOCAL_EDGE_PORT,
    OWNER,
    REFERENCE,
    FunctionRecord,
    RevisionRecord,
)

__all__ = [
    "AccountBackend", "LocalAccount", "open_account", "edge_home", "FunctionRecord",
    "RevisionRecord", "CREATED", "DEPLOY_OK", "BUILD_FAILED", "DEPLOY_FAILED", "LOCAL_EDGE_PORT",
    "OWNER", "REFERENCE",
]
