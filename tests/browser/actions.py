"""What a user does in the harness page, and what the tests read back from it.

Controls are found the way a user finds them, by their visible label (an ``InlineField``'s
``<label for>``) or their ``aria-label``, never by the generator's internal ids, so the tests
keep working when the generated markup changes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.browser.cdp import Page
from tests.browser.server import DataSource, StandIn

# Installed in the page once it has loaded: find a control by label, tag it for a selector.
FINDERS = (Path(__file__).parent / "page" / "finders.js").read_text()


def open_harness(page: Page, stand_in: StandIn) -> None:
    """Load the page (SystemJS configured, frontend settings read) and the finders."""
    page.goto(stand_in.url)
    page.evaluate("harness.ready.then(() => true)")
    page.evaluate(FINDERS)


def js(value: object) -> str:
    """A Python value as a JavaScript literal."""
    return json.dumps(value)


def control(page: Page, label: str, scope: str = "#root") -> str:
    """Selector of the control labelled ``label`` (a regex, case-insensitive); waits for it."""
    selector: str = page.wait_for(f"t.control({js(label)}, {js(scope)})")
    return selector


def type_into(page: Page, label: str, text: str, scope: str = "#root") -> None:
    """Replace the text of the labelled input with ``text``, then leave the field (Tab)."""
    page.type(control(page, label, scope), text)
    page.key("Tab", "Tab", 9)


def toggle(page: Page, label: str, scope: str = "#root") -> None:
    """Click the labelled switch."""
    page.click(page.wait_for(f"t.switchOf({js(label)}, {js(scope)})"))


def open_select(page: Page, label: str, scope: str = "#root") -> list[str]:
    """Open the labelled select; return the labels of the options it offers."""
    page.click(control(page, label, scope))
    options: list[str] = page.wait_for("t.options().length ? t.options() : null")
    return options


def choose(page: Page, label: str, option: str, scope: str = "#root") -> None:
    """Pick ``option`` (its exact label) in the labelled select."""
    open_select(page, label, scope)
    page.click(page.wait_for(f"t.option({js(option)})"))
    page.wait_for("t.options().length === 0")


def find_option(options: list[str], wanted: str) -> str:
    """The offered option matching ``wanted`` ignoring case, spaces and underscores."""

    def norm(text: str) -> str:
        return re.sub(r"[\s_]+", "", text).lower()

    matches = [option for option in options if norm(option).startswith(norm(wanted))]
    assert matches, f"no option like {wanted!r} among {options}"
    return matches[0]


def changes(page: Page, view: str) -> list[dict[str, Any]]:
    """The objects passed to ``onChange``/``onOptionsChange`` in ``view``, in order."""
    values: list[dict[str, Any]] = page.evaluate(
        f"harness.changes.filter((c) => c.view === {js(view)}).map((c) => c.value)"
    )
    return values


def frames(page: Page, scope: str) -> list[dict[str, Any]]:
    """The frames drawn in ``scope``: refId, name and fields (name, type, length, labels)."""
    tables = js(scope + " .harness-frame")
    script = f"""Array.from(document.querySelectorAll({tables})).map((f) => ({{
        refId: f.dataset.refid, name: f.dataset.name,
        fields: Array.from(f.querySelectorAll('.harness-field')).map((r) => ({{
            name: r.dataset.name, type: r.dataset.type, length: Number(r.dataset.length),
            labels: JSON.parse(r.dataset.labels)}}))}}))"""
    drawn: list[dict[str, Any]] = page.evaluate(script)
    return drawn


def add(stand_in: StandIn, plugin_id: str, **json_data: Any) -> DataSource:
    """A new datasource of ``plugin_id`` with ``json_data``."""
    return stand_in.add_datasource(plugin_id, json_data)


def assert_no_console_errors(page: Page) -> None:
    """Nothing reached the console as an error, and no exception went uncaught."""
    errors = page.errors()
    assert errors == [], f"console errors: {errors}"


def assert_labels_fit(page: Page, scope: str = "#root") -> None:
    """Every visible label's text fits its box: no scroll size beyond the client size."""
    assert page.evaluate(f"t.labels({js(scope)})"), "no labels rendered"
    overflowing = page.evaluate(f"t.overflowing({js(scope)})")
    assert overflowing == [], f"labels too small for their text: {overflowing}"
