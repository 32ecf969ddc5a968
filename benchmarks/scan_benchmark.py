"""How long the static Keras 2 scan (`grader.grading.migration.scan`) takes against the size of the source.

The scan runs grader-side before any time limit, on every submission up to the submission cap
(`grader.grading.submission.MAX_SUBMISSION_BYTES`, 20 MiB), so its time must grow linearly with the
source. The source is realistic: the Keras 2 notebooks in `submissions/legacy/` (the cells that
parse) repeated to each size, as one cell. `--old CHECKOUT` also times the scan of an older
checkout of the grader on the sizes up to `--old-max-bytes` (the old scan was quadratic). Prints
numbers; not a test.

    .venv/bin/python benchmarks/scan_benchmark.py [--sizes 20000,200000,...] [--old /tmp/oldmain]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

from grader.grading import migration
from grader.grading.submission import MAX_SUBMISSION_BYTES, Cell, load_submission
from grader.result import MigrationHint

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (20_000, 200_000, 2_000_000, MAX_SUBMISSION_BYTES)

Scan = Callable[[Iterable[Cell]], tuple[MigrationHint, ...]]


def legacy_source(size: int) -> str:
    """At least `size` characters of the course's Keras 2 code: the legacy notebooks' cells that parse."""
    cells = [
        cell.source
        for path in sorted((REPO / "submissions" / "legacy").iterdir())
        for cell in load_submission(path).cells
    ]
    code = [
        "\n".join("" if migration.MAGIC.match(line) else line for line in source.splitlines())
        for source in cells
    ]
    unit = "\n".join(source for source in code if _parses(source)) + "\n"
    return unit * (size // len(unit) + 1)


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


def old_scan(checkout: Path) -> Scan:
    """The `scan` of another checkout's grader/grading/migration.py, loaded beside this one."""
    spec = importlib.util.spec_from_file_location("old_migration", checkout / "grader" / "migration.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"{checkout}: no grader/grading/migration.py to compare with")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules["old_migration"] = module
    spec.loader.exec_module(module)
    scan: Scan = module.scan
    return scan


def timed(scan: Scan, source: str) -> tuple[float, tuple[MigrationHint, ...]]:
    started = time.perf_counter()
    hints = scan([Cell(number=1, source=source)])
    return time.perf_counter() - started, hints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="source sizes in characters, comma-separated (default: up to the 20 MiB cap)",
    )
    parser.add_argument("--old", type=Path, help="an older checkout of the grader to time as well")
    parser.add_argument("--old-max-bytes", type=int, default=50_000, help="largest size to time --old on")
    args = parser.parse_args()

    sizes = [int(part) for part in args.sizes.split(",")]
    previous = old_scan(args.old) if args.old else None
    print(f"static scan of realistic Keras 2 code ({REPO / 'submissions' / 'legacy'} repeated), one cell")
    for size in sizes:
        source = legacy_source(size)[:size]
        source = source[: source.rfind("\n") + 1]
        seconds, hints = timed(migration.scan, source)
        line = (
            f"  {len(source):>11,} chars: {seconds:8.3f} s  {len(source) / seconds / 1e6:6.2f} MB/s"
            f"  {len(hints):>7,} hints"
        )
        if previous is not None and len(source) <= args.old_max_bytes:
            old_seconds, old_hints = timed(previous, source)
            same = "same hints" if old_hints == hints else "HINTS DIFFER"
            line += f"  | old: {old_seconds:8.3f} s ({old_seconds / seconds:,.0f}x), {same}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
