"""``python -m tests.bench`` (``make bench``): run every benchmark and regenerate the reports.

Writes ``docs/benchmarks.md`` and ``docs/benchmarks.json`` (or ``--docs DIR``); ``--quick``
uses tiny sizes (what the smoke test runs); ``--only frame,process`` runs some measurements and
replaces their rows in the existing report. Takes a few minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tests._tools import ROOT
from tests.bench.report import build_markdown, write_reports
from tests.bench.runner import MEASUREMENTS, Config, run_all


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="output folder")
    names = [m.__name__.removeprefix("measure_") for m in MEASUREMENTS]
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated measurements ({', '.join(names)}); their rows replace those "
        "of the existing report",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: write benchmarks.md again from benchmarks.json and notes.md",
    )
    args = parser.parse_args(argv)
    if args.render:
        data = json.loads((args.docs / "benchmarks.json").read_text(encoding="utf-8"))
        markdown = build_markdown(data, data["config"]["concurrency"])
        (args.docs / "benchmarks.md").write_text(markdown, encoding="utf-8")
        return 0
    only = [name for name in args.only.split(",") if name]
    if unknown := set(only) - set(names):
        parser.error(f"unknown measurements: {', '.join(sorted(unknown))}")
    config = Config.quick() if args.quick else Config()
    command = "python -m tests.bench --quick" if args.quick else "make bench"
    if only:
        command = f"python -m tests.bench --only {','.join(only)}"
    began = time.monotonic()

    def log(text: str) -> None:
        sys.stderr.write(f"[{time.monotonic() - began:6.1f} s] {text}\n")

    with tempfile.TemporaryDirectory(prefix="plutono-bench-") as scratch:
        bench = run_all(config, Path(scratch), log, only)
    write_reports(bench, args.docs, command, partial=bool(only))
    log(f"wrote {args.docs / 'benchmarks.md'} and {args.docs / 'benchmarks.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
