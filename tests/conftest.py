"""Shared fixtures: built plugin directories and a launcher for plugin processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from plutono_plugin._build import build_plugin_dir
from tests._tools import ROOT


@pytest.fixture(scope="session")
def quickstart_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``examples/quickstart`` built into a Plutono plugin directory."""
    output = tmp_path_factory.mktemp("plugins") / "quickstart"
    build_plugin_dir(ROOT / "examples" / "quickstart", output)
    return output


@pytest.fixture(scope="session")
def lifecycle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/plugins/lifecycle`` built into a Plutono plugin directory."""
    output = tmp_path_factory.mktemp("plugins") / "lifecycle"
    build_plugin_dir(ROOT / "tests" / "plugins" / "lifecycle", output)
    return output


@pytest.fixture(scope="session")
def healthonly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/plugins/healthonly`` (an app plugin without queries or resources), built."""
    output = tmp_path_factory.mktemp("plugins") / "healthonly"
    build_plugin_dir(ROOT / "tests" / "plugins" / "healthonly", output)
    return output


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
