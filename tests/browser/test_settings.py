"""The datasource settings page in Chromium: ConfigEditor props and Save & Test (spec 8.4, 8.6).

A click on "Save & Test" sends ``PUT /api/datasources/:id`` to the stand-in server, re-reads the
frontend settings, builds a fresh instance through datasource_srv and calls its
``testDatasource()``, which reaches the plugin's CheckHealth under the Go host.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.actions import (
    add,
    assert_labels_fit,
    assert_no_console_errors,
    changes,
    open_harness,
    toggle,
    type_into,
)
from tests.browser.cdp import Page
from tests.browser.conftest import QUICKSTART_ID, SQL_ID
from tests.browser.server import DataSource, StandIn

pytestmark = [pytest.mark.go, pytest.mark.browser]

SAVE = '[aria-label="Data source settings page Save and Test button"]'
ALERT = '[aria-label="Data source settings page Alert"]'


def open_settings(page: Page, stand_in: StandIn, ds: DataSource) -> None:
    open_harness(page, stand_in)
    page.evaluate(f"harness.openSettings({ds.name!r})")
    page.wait_for("document.querySelector('.harness-config-editor') !== null")


def save_and_test(page: Page) -> dict[str, str]:
    """Click Save & Test; the final alert's severity and text (never the "Testing..." one)."""
    health = "harness.requests.filter((r) => r.url.endsWith('/health')).length"
    before = page.evaluate(health)
    page.click(SAVE)
    page.wait_for(f"{health} > {before}")
    script = f"""(() => {{
        const alert = document.querySelector({ALERT!r});
        if (!alert || alert.textContent.includes('Testing...')) return null;
        return {{status: document.querySelector('.harness-test-status').dataset.status,
                 text: alert.textContent.trim()}};
    }})()"""
    result: dict[str, str] = page.wait_for(script)
    return result


@pytest.mark.parametrize("plugin_id", [QUICKSTART_ID, SQL_ID])
def test_config_editor_renders_with_labels_that_fit(
    page: Page, stand_in: StandIn, plugin_id: str, sample_db: Path
) -> None:
    ds = add(stand_in, plugin_id, path=str(sample_db))
    open_settings(page, stand_in, ds)

    assert "no settings" not in page.evaluate("document.querySelector('#root').textContent")
    assert_labels_fit(page, ".harness-config-editor")
    assert_no_console_errors(page)


def test_quickstart_save_and_test_ok(page: Page, stand_in: StandIn) -> None:
    ds = add(stand_in, QUICKSTART_ID)
    open_settings(page, stand_in, ds)

    result = save_and_test(page)

    assert result == {"status": "success", "text": "quickstart datasource is working"}
    assert ("PUT", f"/api/datasources/{ds.id}", 200) in stand_in.log
    assert ("GET", f"/api/datasources/{ds.id}/health", 200) in stand_in.log
    assert page.evaluate("harness.injector") == []
    assert_no_console_errors(page)


def test_quickstart_save_and_test_error_after_editing_settings(
    page: Page, stand_in: StandIn
) -> None:
    ds = add(stand_in, QUICKSTART_ID)
    open_settings(page, stand_in, ds)

    toggle(page, "^Fail$")
    type_into(page, "^Max points$", "250")
    result = save_and_test(page)

    assert result == {"status": "error", "text": "the fail setting is on: failing on purpose"}
    # onOptionsChange got whole objects built from the latest options (spec 8.4).
    last = changes(page, "config")[-1]
    assert last["jsonData"] == {"fail": True, "maxPoints": 250}
    assert (last["id"], last["name"], last["type"]) == (ds.id, ds.name, QUICKSTART_ID)
    assert ds.json_data == {"fail": True, "maxPoints": 250}  # what the PUT stored
    assert ("GET", f"/api/datasources/{ds.id}/health", 503) in stand_in.log
    assert_no_console_errors(page)


def test_quickstart_integer_field_refuses_unsafe_numbers(page: Page, stand_in: StandIn) -> None:
    ds = add(stand_in, QUICKSTART_ID)
    open_settings(page, stand_in, ds)

    type_into(page, "^Max points$", "1e21")

    # Number.isInteger(1e21) is true, but it is no integer the backend accepts (spec 8.9).
    emitted = [change["jsonData"].get("maxPoints") for change in changes(page, "config")]
    assert 1e21 not in emitted
    assert_no_console_errors(page)


def test_quickstart_secret_is_sent_once_and_shown_as_configured(
    page: Page, stand_in: StandIn
) -> None:
    ds = add(stand_in, QUICKSTART_ID)
    open_settings(page, stand_in, ds)

    type_into(page, "^API key$", "s3cr3t")
    save_and_test(page)

    assert ds.secure == {"apiKey": "s3cr3t"}
    [put] = page.evaluate("harness.requests.filter((r) => r.method === 'PUT')")
    assert put["body"]["secureJsonData"] == {"apiKey": "s3cr3t"}
    # After the reload the field shows as configured, with a Reset button (spec 8.4).
    page.wait_for(
        "Array.from(document.querySelectorAll('.harness-config-editor button'))"
        ".some((b) => b.textContent.trim() === 'Reset')"
    )
    assert_no_console_errors(page)


def test_sql_save_and_test_ok(page: Page, stand_in: StandIn, sample_db: Path) -> None:
    ds = add(stand_in, SQL_ID, path=str(sample_db))
    open_settings(page, stand_in, ds)

    result = save_and_test(page)

    assert result["status"] == "success"
    assert result["text"].startswith(f"database {sample_db} has ")
    assert_no_console_errors(page)


def test_sql_save_and_test_error_for_a_file_that_is_no_database(
    page: Page, stand_in: StandIn, sample_db: Path, tmp_path: Path
) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("not SQLite\n" * 100)
    ds = add(stand_in, SQL_ID, path=str(sample_db))
    open_settings(page, stand_in, ds)

    type_into(page, "^(database file|path)$", str(not_a_database))
    result = save_and_test(page)

    assert result["status"] == "error"
    assert result["text"].startswith("cannot read the database: ")
    assert ds.json_data["path"] == str(not_a_database)
    assert_no_console_errors(page)


def test_quickstart_settings_saved_twice_within_one_second_both_take_effect(
    page: Page, stand_in: StandIn
) -> None:
    # Plutono stores "updated" to the second; the stand-in pins it, so both saves carry the
    # same lastUpdatedMS (issue 16: the instance cache must see the jsonData change).
    ds = add(stand_in, QUICKSTART_ID)
    ds.pinned_updated_ms = ds.updated_ms
    open_settings(page, stand_in, ds)

    toggle(page, "^Fail$")
    first = save_and_test(page)
    toggle(page, "^Fail$")
    second = save_and_test(page)

    assert first["status"] == "error"
    assert ds.json_data == {"fail": False}  # the page saved the change...
    assert second == {"status": "success", "text": "quickstart datasource is working"}
    assert_no_console_errors(page)
