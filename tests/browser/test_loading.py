"""Loading and instantiating the generated module.js as Plutono 7.5.49 does, in Chromium.

Spec 8.1 (SystemJS 0.20.19 configured as plugin_loader.ts, the names Plutono exposes) and 8.2
(datasource_srv.ts: ``new C(instanceSettings)`` iff ``C.length === 1``, else AngularJS's
injector, which calls a zero-arity class with no arguments — the path issue 16 found).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.actions import add, assert_no_console_errors, js, open_harness
from tests.browser.cdp import Page
from tests.browser.conftest import QUICKSTART_ID, SQL_ID
from tests.browser.server import Plugin, StandIn

pytestmark = [pytest.mark.go, pytest.mark.browser]

EXAMPLES = [QUICKSTART_ID, SQL_ID]

# A datasource written the way the generator used to (no explicit constructor): the harness
# must reproduce Plutono's failure for it, or it could not catch the bug of issue 16.
NO_CONSTRUCTOR_MODULE = """define(['@credativ/plutono-data', '@credativ/plutono-runtime'],
function (data, runtime) {
  class DataSource extends runtime.DataSourceWithBackend {}
  return { plugin: new data.DataSourcePlugin(DataSource) };
});
"""

GRAFANA_NAME_MODULE = """define(['@grafana/data'], function (data) {
  return { plugin: new data.DataSourcePlugin(function (s) {}) };
});
"""


def frontend_only_plugin(stand_in: StandIn, tmp_path: Path, plugin_id: str, module: str) -> None:
    directory = tmp_path / plugin_id
    directory.mkdir()
    (directory / "module.js").write_text(module)
    manifest = {"id": plugin_id, "type": "datasource", "name": plugin_id, "metrics": True}
    stand_in.plugins[plugin_id] = Plugin(directory, manifest, None)


@pytest.mark.parametrize("plugin_id", EXAMPLES)
def test_datasource_is_constructed_with_its_instance_settings(
    page: Page, stand_in: StandIn, plugin_id: str
) -> None:
    ds = add(stand_in, plugin_id)
    open_harness(page, stand_in)

    built = page.evaluate(f"harness.instantiate({js(ds.name)})")

    assert built == {"ok": True, "name": ds.name, "id": ds.id, "hasComponents": True}
    assert page.evaluate("harness.instantiated") == [{"name": ds.name, "path": "new"}]
    assert page.evaluate("harness.injector") == []  # the Angular path is never taken
    assert page.evaluate("harness.toasts") == []
    # SystemJS fetched the module under public/plugins/<id>/ with the loader's cache buster.
    fetched = [path for method, path, _ in stand_in.log if path.startswith("/public/plugins/")]
    assert any(
        path.startswith(f"/public/plugins/{plugin_id}/module.js?_cache=") for path in fetched
    )
    assert_no_console_errors(page)


def test_harness_reproduces_plutonos_failure_for_a_class_without_constructor(
    page: Page, stand_in: StandIn, tmp_path: Path
) -> None:
    frontend_only_plugin(stand_in, tmp_path, "harness-noctor-datasource", NO_CONSTRUCTOR_MODULE)
    ds = add(stand_in, "harness-noctor-datasource")
    open_harness(page, stand_in)

    built = page.evaluate(f"harness.instantiate({js(ds.name)})")

    assert built == {"ok": False, "error": f"Datasource named {ds.name} was not found"}
    assert page.evaluate("harness.injector") == [{"name": ds.name, "length": 0}]
    [toast] = page.evaluate("harness.toasts")
    assert toast["title"] == f"{ds.name} plugin failed"
    assert "Cannot read properties of undefined (reading 'name')" in toast["text"]


def test_grafana_package_names_are_not_exposed(
    page: Page, stand_in: StandIn, tmp_path: Path
) -> None:
    # Spec 8.1: only @credativ/plutono-* exist; @grafana/data resolves to public/@grafana/data.
    frontend_only_plugin(stand_in, tmp_path, "harness-grafana-datasource", GRAFANA_NAME_MODULE)
    ds = add(stand_in, "harness-grafana-datasource")
    open_harness(page, stand_in)

    built = page.evaluate(f"harness.instantiate({js(ds.name)})")

    assert built["ok"] is False
    missed = [entry for entry in stand_in.log if entry[1].startswith("/public/@grafana/data")]
    assert missed and all(status == 404 for _, _, status in missed)
    [toast] = page.evaluate("harness.toasts")
    assert "public/@grafana/data" in toast["text"]


def test_resources_reach_the_plugin_through_get_resource(page: Page, stand_in: StandIn) -> None:
    ds = add(stand_in, QUICKSTART_ID)
    open_harness(page, stand_in)

    script = f"""harness.instantiate({js(ds.name)}).then(() =>
        window.PlutonoShared['@credativ/plutono-runtime'].getDataSourceSrv().get({js(ds.name)}))
      .then((ds) => Promise.all([ds.getResource('ping'), ds.getResource('items/7'),
                                 ds.postResource('echo', {{a: 1}})]))"""
    ping, item, echo = page.evaluate(script)

    assert ping == {"ok": True}
    assert item == {"id": 7, "name": "item 7"}
    assert echo["method"] == "POST" and echo["body"] == '{"a":1}'
    assert echo["headers"]["X-Plutono-Org-Id"] == "1"  # set by backendSrv (spec 8.5)
    assert_no_console_errors(page)
