"""A new panel's target as legacy alerting gets it (spec 8.8, 2.4.2), from the real editor.

``PanelModel.getSaveModel`` drops ``targets`` when they deep-equal the default
``[{refId: 'A'}]``, and the alert extractor then fails with "refers to query(A) that cannot be
found" (HTTP 422). So the editor must write a complete query on mount. The saved target is
then evaluated as the alert engine does — the stored model verbatim, refId A, no interval and
no maxDataPoints, ``FromAlert: true``, no user — and its frames go through SDK v0.88.0's
decoder and alerting conversion (``tests/interop/framecheck``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests._tools import go_binary
from tests.browser.actions import add, assert_no_console_errors, js, open_harness
from tests.browser.cdp import CDPError, Page
from tests.browser.conftest import NOW, QUICKSTART_ID, SQL_ID
from tests.browser.server import StandIn
from tests.interop.gohost import frames_bytes

pytestmark = [pytest.mark.go, pytest.mark.browser]

HOUR_MS = 3_600_000


@pytest.mark.parametrize("plugin_id", [QUICKSTART_ID, SQL_ID])
def test_new_panel_saves_a_target_that_alerting_evaluates(
    page: Page, stand_in: StandIn, plugin_id: str, sample_db: Path, tmp_path: Path
) -> None:
    ds = add(stand_in, plugin_id, path=str(sample_db))
    rng = {"from": NOW * 1000 - HOUR_MS, "to": NOW * 1000}
    open_harness(page, stand_in)
    assert page.evaluate(f"harness.openPanel({js(ds.name)}, [{{refId: 'A'}}], {js(rng)})")

    try:
        page.wait_for("harness.changes.some((c) => c.view === 'panel')", timeout=10)
    except CDPError:
        pytest.fail("the editor never called onChange: the dashboard would save no targets")
    [target] = page.evaluate("harness.panelQueries")
    assert target != {"refId": "A"} and target["refId"] == "A"

    model = {**target, "datasourceId": ds.id}  # what the extractor stores
    context = ds.plugin_context()
    del context["user"]  # the alert engine has no user
    plugin = stand_in.plugins[plugin_id]
    assert plugin.host is not None
    with plugin.lock:
        reply = plugin.host.query(
            [
                {
                    "ref_id": "A",
                    "query_type": str(model.get("queryType") or ""),
                    "json": model,
                    "from_ms": rng["from"],
                    "to_ms": rng["to"],
                    "interval_ms": 0,
                    "max_data_points": 0,
                }
            ],
            plugin_context=context,
            headers={"FromAlert": "true"},
        )
    assert reply["ok"], reply.get("error")
    response = reply["responses"]["A"]
    assert response["error"] == ""
    series = []
    for index, raw in enumerate(frames_bytes(response)):
        path = tmp_path / f"alert-{index}.arrow"
        path.write_bytes(raw)
        out = subprocess.run(
            [str(go_binary("framecheck")), str(path)], capture_output=True, text=True, check=True
        )
        [view] = json.loads(out.stdout)
        assert view["error"] is None and view["seriesError"] is None, view
        series += view["series"]
    assert series and all(s["points"] > 0 for s in series)
    assert_no_console_errors(page)
