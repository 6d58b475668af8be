"""kill -9 in the middle of load, N trials (not a test): no acknowledged write may be lost.

Each trial starts the real `telnyx-edge dev` on a fresh copy of the KV or the SQL Account project,
debits 4 accounts from 32 clients, SIGKILLs the runtime and its isolate after a random number of
acknowledged debits, restarts it and compares every balance with what was acknowledged.

    python bench/killtest.py [--trials 20] [--storage kv,sql]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness import link_node_modules  # noqa: E402
from tests.killtrial import run_trial  # noqa: E402

PROJECTS = {"kv": "account", "sql": "account-sql"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--storage", default="kv,sql")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print("| storage | trials | acknowledged debits | lost | applied but never sent |")
    print("| --- | ---: | ---: | ---: | ---: |")
    failed = False
    for storage in args.storage.split(","):
        acked = lost = phantom = 0
        for n in range(args.trials):
            with tempfile.TemporaryDirectory() as tmp:
                project = Path(tmp) / "account"
                shutil.copytree(ROOT / "tests" / "fixtures" / "projects" / PROJECTS[storage], project)
                link_node_modules(project)
                trial = run_trial(project, Path(tmp) / "state", kill_after=rng.randint(200, 2000))
            acked += trial.total_acked
            lost += trial.lost
            phantom += trial.phantom
            print(f"  {storage} trial {n + 1}: acked {trial.total_acked}, lost {trial.lost}", file=sys.stderr)
        failed = failed or lost > 0 or phantom > 0
        print(f"| {storage} | {args.trials} | {acked:,} | {lost} | {phantom} |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
