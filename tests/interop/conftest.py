"""Fixtures for the interop tests: the Go host binary, a host per test, the Go reference plugin.

Both Go programs are built once per session (the first build downloads modules and compiles the
SDK, which takes minutes); without Go the tests skip, and fail in CI (``tests/_tools.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._tools import go_binary
from tests.interop.gohost import GoHost, goref_plugin_dir


@pytest.fixture(scope="session")
def go_host_binary() -> Path:
    """The built ``tests/interop/host`` program."""
    return go_binary("host")


@pytest.fixture(scope="session")
def goref_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin directory holding the Go reference plugin, laid out as Plutono expects."""
    return goref_plugin_dir(tmp_path_factory.mktemp("plugins"))


@pytest.fixture
def go_host(go_host_binary: Path, tmp_path: Path) -> Iterator[GoHost]:
    """A fresh host for one test; its plugin is killed and the host closed afterwards.

    The host's debugging output is kept in ``<tmp_path>/host.stderr``.
    """
    host = GoHost(go_host_binary, stderr_path=tmp_path / "host.stderr", cwd=tmp_path)
    yield host
    host.close()
