"""Smoke test of the benchmark harness (``make bench``) at tiny sizes, so its code cannot rot.

It runs every measurement through the real Go host against all plugins (ours, the Go
reference, the bare ceiling) and checks the reports' structure; no timing is asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.__main__ import main
from tests.bench.report import metrics_for
from tests.bench.runner import Config


@pytest.mark.go
@pytest.mark.timeout(300)
def test_quick_run_writes_every_metric_for_every_plugin(tmp_path: Path) -> None:
    assert main(["--quick", "--docs", str(tmp_path)]) == 0

    data = json.loads((tmp_path / "benchmarks.json").read_text())
    assert data["machine"]["cores"] >= 1
    expected = {metric.key: metric for metric in metrics_for(Config.quick().concurrency)}
    assert set(data["metrics"]) == set(expected)
    for key, metric in expected.items():
        entry = data["metrics"][key]
        assert entry["unit"] == metric.unit
        wanted = {who for pair in metric.ratios for who in pair}
        assert wanted <= set(entry), f"{key}: no figures for {wanted - set(entry)}"
        for who in wanted:
            stats = entry[who]
            assert stats["min"] <= stats["median"] <= stats["max"], (key, who)
            assert stats["min"] > 0, (key, who)
        assert set(entry["ratios"]) == {f"{a}/{b}" for a, b in metric.ratios}

    markdown = (tmp_path / "benchmarks.md").read_text()
    for heading in (
        "## Goals",
        "## 1. QueryData",
        "## 2. Slow",
        "## 3. Large frame",
        "## 4\u20136.",
        "## 9. Start-up for plugin authors",
    ):
        assert heading in markdown
    for metric in expected.values():
        assert f"| {metric.title} |" in markdown
