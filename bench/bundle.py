"""Bundle time and size: the `--actor` scaffold and a generated 200-module project.

Run from the checkout root: `python bench/bundle.py [--runs N]`. Uses the shared
tests/fixtures/node/node_modules (esbuild 0.28.2). Prints medians of N runs of:
  esbuild   bundle.build(): the esbuild CLI from the project's node_modules, with metafile
  ship      a full `ship --dry-run` in-process: config, esbuild, Node load check, manifest
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telnyx_edge import bundle, scaffold  # noqa: E402
from telnyx_edge.ship import ship  # noqa: E402
from tests.harness import link_node_modules  # noqa: E402


def make_scaffold(parent: Path) -> Path:
    plan = scaffold.plan("bench-scaffold", parent=parent, actor=True)
    path = scaffold.write(plan, str(uuid.uuid4()))
    link_node_modules(path)
    return path


def make_large(parent: Path, modules: int = 200) -> Path:
    """`main` imports every module; each module imports its predecessor and does a little work."""
    project = make_scaffold(parent / "large")
    src = project / "src"
    for i in range(modules):
        previous = f'import {{ step{i - 1} }} from "./m{i - 1:03d}";\n' if i else ""
        call = f"step{i - 1}(x)" if i else "x"
        (src / f"m{i:03d}.ts").write_text(
            f"{previous}"
            f"export interface Shape{i} {{ id: number; label: string; tags: string[] }}\n"
            f"export function step{i}(x: number): number {{\n"
            f"  const shape: Shape{i} = {{ id: x, label: `m{i}-${{x}}`, tags: [\"a\", \"b\"] }};\n"
            f"  return {call} + shape.label.length + shape.tags.length;\n"
            f"}}\n"
        )
    imports = "".join(f'import {{ step{i} }} from "./m{i:03d}";\n' for i in range(modules))
    total = " + ".join(f"step{i}(1)" for i in range(modules))
    index = src / "index.ts"
    index.write_text(imports + f"export const total = () => {total};\n" + index.read_text())
    return project


def median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        parent = Path(scratch)
        for label, project in (("scaffold (2 modules)", make_scaffold(parent)), ("generated (201 modules)", make_large(parent))):
            out = project / ".telnyx" / "build"
            bundle.build(project, "src/index.ts", out)  # warm the page cache once
            build_ms = median_ms(lambda: bundle.build(project, "src/index.ts", out), args.runs)
            ship_ms = median_ms(lambda: ship(project, None, dry_run=True), args.runs)
            result = ship(project, None, dry_run=True)
            rows.append((label, len(result.files), build_ms, ship_ms, result.bundle.size, result.gzip_size))
    print(f"median of {args.runs} runs")
    print(f"{'project':<26}{'inputs':>7}{'esbuild ms':>12}{'ship --dry-run ms':>19}{'bytes':>9}{'gzip':>8}")
    for label, inputs, build_ms, ship_ms, size, gz in rows:
        print(f"{label:<26}{inputs:>7}{build_ms:>12.1f}{ship_ms:>19.1f}{size:>9,}{gz:>8,}")


if __name__ == "__main__":
    main()
