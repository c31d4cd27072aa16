"""Fixtures of the real-browser tests: one Chromium, the Plutono stand-in server, the plugins.

Chromium (Debian's package) and the bundle of shared libraries (``build/shared.js``) are
prepared by ``make browser``, outside pytest's per-test timeout; without them the tests skip,
and fail in CI (``PLUTONO_PLUGIN_STRICT=1``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._prebuilt import prebuilt
from tests._tools import go_binary, load_example, skip_or_fail
from tests.browser.cdp import Browser, Page, chromium_path
from tests.browser.server import BUNDLE, Plugin, StandIn
from tests.interop.gohost import GoHost

QUICKSTART_ID = "plutono-quickstart-datasource"
SQL_ID = "plutono-sql-example-datasource"
NOW = 1_600_000_000 // 60 * 60  # the SQL sample data's "now", epoch seconds (as test_sql_example)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """The session's one headless Chromium."""
    executable = chromium_path()
    if executable is None:
        skip_or_fail("Chromium is not installed (`make browser` installs Debian's package)")
    if not BUNDLE.is_file():
        skip_or_fail(f"{BUNDLE} is missing (`make browser` builds it)")
    instance = Browser(executable, tmp_path_factory.mktemp("chromium") / "profile")
    yield instance
    instance.close()


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SQL example's sample database, with a fixed "now" (:data:`NOW`)."""
    path = tmp_path_factory.mktemp("db") / "sample.sqlite"
    load_example("sql").create_sample_database(path, now=NOW)
    return path


def _plugin_dir(request: pytest.FixtureRequest, name: str) -> Path:
    """``examples/<name>``, built before the first test (``tests/_prebuilt.py``)."""
    return prebuilt(request, f"browser_{name}")


@pytest.fixture(scope="session")
def stand_in(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, browser: Browser
) -> Iterator[StandIn]:
    """The server, with both examples running under their own Go host for the session."""
    binary = go_binary("host")
    logs = tmp_path_factory.mktemp("browser-hosts")
    hosts: list[GoHost] = []
    plugins: dict[str, Plugin] = {}
    try:
        for name in ("quickstart", "sql"):
            directory = _plugin_dir(request, name)
            manifest = json.loads((directory / "plugin.json").read_text())
            host = GoHost(binary, stderr_path=logs / f"{name}.stderr", cwd=logs)
            hosts.append(host)
            started = host.start(directory, manifest["id"])
            assert started["ok"], started.get("error")
            plugins[manifest["id"]] = Plugin(directory, manifest, host)
        server = StandIn(plugins).start()
        yield server
        server.close()
    finally:
        for host in hosts:
            host.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (a fresh SystemJS registry and datasource cache, as after a page reload)."""
    tab = browser.new_page()
    yield tab
    tab.close()
