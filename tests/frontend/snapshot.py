"""``python -m tests.frontend.snapshot`` (``make snapshots``): rewrite the module.js snapshots.

The quickstart is built as ``plutono-plugin build`` builds it; its ``module.js`` is the snapshot
``tests/frontend/snapshots/quickstart.module.js`` that ``test_snapshot.py`` compares with.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from plutono_plugin.cli.build import build_plugin_dir
from tests._tools import ROOT

SNAPSHOTS = ROOT / "tests" / "frontend" / "snapshots"
QUICKSTART_SNAPSHOT = SNAPSHOTS / "quickstart.module.js"


def main() -> None:
    """Build the quickstart in a scratch directory and keep its module.js as the snapshot."""
    with tempfile.TemporaryDirectory() as scratch:
        result = build_plugin_dir(ROOT / "examples" / "quickstart", Path(scratch) / "quickstart")
        shutil.copyfile(result.directory / "module.js", QUICKSTART_SNAPSHOT)
    print(f"wrote {QUICKSTART_SNAPSHOT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
