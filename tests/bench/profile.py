"""Profile the QueryData path of the quickstart plugin under the Go host's load (pyinstrument).

The plugin runs under ``python -m pyinstrument`` (launched by the Go host like Plutono would),
the host's ``bench_query`` drives ``sine`` queries of 100 points at the given concurrency, then
``Kill()`` stops the plugin and pyinstrument writes its report.

Run: ``python -m tests.bench.profile [--seconds 5] [--concurrency 16] [--out profile.txt]``
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

from plutono_plugin.cli.build import build_plugin_dir
from tests._tools import ROOT, go_binary
from tests.bench.plugins import QUICKSTART_ID
from tests.interop.gohost import GoHost, executable_file_name

SINE = [{"ref_id": "A", "query_type": "sine", "json": {}}]


def profile(
    seconds: float, concurrency: int, out: Path, renderer: str = "text"
) -> dict[str, object]:
    """Profile ``seconds`` of load; write pyinstrument's report to ``out``; return load figures."""
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch:
        folder = Path(scratch) / QUICKSTART_ID
        build_plugin_dir(ROOT / "examples" / "quickstart", folder)
        launcher = folder / executable_file_name("gpx_quickstart")
        source = ROOT / "examples" / "quickstart"
        launcher.write_text(
            "#!/bin/sh\nPYTHONDONTWRITEBYTECODE=1\n"
            f"PYTHONPATH={shlex.quote(str(source))}\nexport PYTHONDONTWRITEBYTECODE PYTHONPATH\n"
            f"exec {shlex.quote(sys.executable)} -B -m pyinstrument --no-color "
            f"-r {renderer} -o {shlex.quote(str(out.resolve()))} "
            "-m plutono_plugin run plugin:plugin\n",
            encoding="utf-8",
        )
        host = GoHost(go_binary("host"))
        try:
            started = host.start(folder, QUICKSTART_ID)
            if not started["ok"]:
                raise RuntimeError(f"the plugin did not start: {started.get('error')}")
            reply = host.command(
                "bench_query",
                {"queries": SINE, "concurrency": concurrency, "duration_ms": int(seconds * 1000)},
                timeout=seconds + 60,
            )
            host.kill()
        finally:
            host.close()
    return {key: reply.get(key) for key in ("calls", "per_second", "p50_ms", "p99_ms", "error")}


def main() -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--renderer", default="text", help="pyinstrument renderer (text, html)")
    parser.add_argument("--out", type=Path, default=Path("build/profile.txt"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figures = profile(args.seconds, args.concurrency, args.out, args.renderer)
    print(f"load: {figures}\nprofile: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
