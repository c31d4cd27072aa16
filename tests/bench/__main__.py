"""``python -m tests.bench`` (``make bench``): run every benchmark and regenerate the reports.

Writes ``docs/benchmarks.md`` and ``docs/benchmarks.json`` (or ``--docs DIR``); ``--quick``
uses tiny sizes (what the smoke test runs). Takes a few minutes on a 2-core machine.
``--only measure_settled_giveups`` runs only the named measurements and replaces only their
figures in the existing reports (``partial_runs`` in the JSON says which run gave which).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests._tools import ROOT
from tests.bench.leak import measure_settled_giveups
from tests.bench.report import merge_reports, write_reports
from tests.bench.runner import MEASUREMENTS, Config, run_all

ALL = (*MEASUREMENTS, measure_settled_giveups)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="output folder")
    names = [measurement.__name__ for measurement in ALL]
    parser.add_argument(
        "--only", action="append", choices=names, default=[], help="run only these (repeatable)"
    )
    args = parser.parse_args(argv)
    config = Config.quick() if args.quick else Config()
    command = "python -m tests.bench --quick" if args.quick else "make bench"
    if args.only and not args.quick:
        command = "python -m tests.bench"
    chosen = [m for m in ALL if m.__name__ in args.only] if args.only else list(ALL)
    if args.only:
        command += "".join(f" --only {name}" for name in args.only)
    began = time.monotonic()

    def log(text: str) -> None:
        sys.stderr.write(f"[{time.monotonic() - began:6.1f} s] {text}\n")

    with tempfile.TemporaryDirectory(prefix="plutono-bench-") as scratch:
        bench = run_all(config, Path(scratch), log, chosen)
    if args.only:
        merge_reports(bench, args.docs, command)
    else:
        write_reports(bench, args.docs, command)
    log(f"wrote {args.docs / 'benchmarks.md'} and {args.docs / 'benchmarks.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
