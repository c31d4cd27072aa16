"""The quickstart's generated module.js is committed; a change to it must be deliberate."""

from __future__ import annotations

from pathlib import Path

from tests.frontend.snapshot import QUICKSTART_SNAPSHOT


def test_quickstart_module_matches_the_committed_snapshot(quickstart_dir: Path) -> None:
    generated = (quickstart_dir / "module.js").read_text(encoding="utf-8")
    committed = QUICKSTART_SNAPSHOT.read_text(encoding="utf-8")
    assert generated == committed, (
        "the generated module.js of examples/quickstart changed; review the difference and "
        "run `make snapshots` to update tests/frontend/snapshots/quickstart.module.js"
    )
