"""Shared fixtures: built plugin directories (built before the first test) and requests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plutono_plugin import Headers, RequestContext, ResourceRequest
from tests._prebuilt import PREBUILT, prebuilt, prepare

# The SQL example confines explicit database paths to its database root (examples/sql,
# ``database_root``); the suite's databases live in pytest's temporary folders. Set here, at
# import, so every plugin process a test starts inherits it.
os.environ.setdefault("PL_PLUGIN_DATABASE_ROOT", tempfile.gettempdir())


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build what the collected tests need before the first runs (``tests/_prebuilt.py``)."""
    if session.config.option.collectonly or not session.items:
        return
    parent = Path(tempfile.mkdtemp(prefix="plutono-plugin-tests-"))
    session.config.add_cleanup(lambda: shutil.rmtree(parent, ignore_errors=True))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def report(text: str) -> None:
        if reporter is not None:
            reporter.write_line(text)

    session.config.stash[PREBUILT] = prepare(session.items, parent, report)


@pytest.fixture(scope="session")
def quickstart_dir(request: pytest.FixtureRequest) -> Path:
    """``examples/quickstart`` built into a Plutono plugin directory."""
    return prebuilt(request, "quickstart_dir")


@pytest.fixture(scope="session")
def lifecycle_dir(request: pytest.FixtureRequest) -> Path:
    """``tests/plugins/lifecycle`` (process-contract behaviours) built."""
    return prebuilt(request, "lifecycle_dir")


@pytest.fixture(scope="session")
def healthonly_dir(request: pytest.FixtureRequest) -> Path:
    """``tests/plugins/healthonly`` (an app plugin without queries or resources), built."""
    return prebuilt(request, "healthonly_dir")


@pytest.fixture(scope="session")
def dataplane_dir(request: pytest.FixtureRequest) -> Path:
    """``tests/plugins/dataplane`` (data-plane edge cases) built."""
    return prebuilt(request, "dataplane_dir")


@pytest.fixture(scope="session")
def robust_dir(request: pytest.FixtureRequest) -> Path:
    """``tests/plugins/robust`` (handlers misbehaving on purpose, issue #11), built."""
    return prebuilt(request, "robust_dir")


MakeRequest = Callable[..., ResourceRequest]


@pytest.fixture
def make_request() -> MakeRequest:
    """Build a :class:`ResourceRequest` as the adapter would from a CallResource message."""

    def make(
        method: str = "GET",
        path: str = "",
        *,
        query: str = "",
        headers: dict[str, str | list[str]] | None = None,
        body: bytes = b"",
        context: RequestContext | None = None,
    ) -> ResourceRequest:
        return ResourceRequest(
            method=method,
            path=path,
            url=f"{path}?{query}" if query else path,
            headers=Headers(headers),
            body=body,
            context=context or RequestContext(),
        )

    return make


@pytest.fixture
def clean_env() -> Iterator[dict[str, str]]:
    """This process's environment without go-plugin's variables (tests add what they need)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PLUGIN_", "PL_", "grafana_plugin"))
    }
    yield env


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (``PLUTONO_PLUGIN_STRICT=1``) any skipped test fails the run: CI runs everything."""
    if os.environ.get("PLUTONO_PLUGIN_STRICT") != "1" or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped:
        reporter.write_line(f"PLUTONO_PLUGIN_STRICT: {len(skipped)} test(s) skipped: failing")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
