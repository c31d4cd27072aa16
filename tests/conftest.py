"""Shared fixtures: built plugin directories and a launcher for plugin processes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plutono_plugin import Headers, RequestContext, ResourceRequest
from plutono_plugin.cli.build import build_plugin_dir
from tests._tools import ROOT

# The SQL example confines explicit database paths to its database root (examples/sql,
# ``database_root``); the suite's databases live in pytest's temporary folders. Set here, at
# import, so every plugin process a test starts inherits it.
os.environ.setdefault("PL_PLUGIN_DATABASE_ROOT", tempfile.gettempdir())


def _build(factory: pytest.TempPathFactory, source: Path, name: str) -> Path:
    output = factory.mktemp("plugins") / name
    build_plugin_dir(source, output)
    return output


@pytest.fixture(scope="session")
def quickstart_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``examples/quickstart`` built into a Plutono plugin directory."""
    return _build(tmp_path_factory, ROOT / "examples" / "quickstart", "quickstart")


@pytest.fixture(scope="session")
def lifecycle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/plugins/lifecycle`` (process-contract behaviours) built."""
    return _build(tmp_path_factory, ROOT / "tests" / "plugins" / "lifecycle", "lifecycle")


@pytest.fixture(scope="session")
def healthonly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/plugins/healthonly`` (an app plugin without queries or resources), built."""
    return _build(tmp_path_factory, ROOT / "tests" / "plugins" / "healthonly", "healthonly")


@pytest.fixture(scope="session")
def dataplane_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/plugins/dataplane`` (data-plane edge cases) built."""
    return _build(tmp_path_factory, ROOT / "tests" / "plugins" / "dataplane", "dataplane")


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


@pytest.fixture(scope="session")
def robust_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/plugins/robust`` (handlers misbehaving on purpose, issue #11), built."""
    return _build(tmp_path_factory, ROOT / "tests" / "plugins" / "robust", "robust")
