"""pytest plugin (registered by the package): the ``golden`` fixture and ``--update-golden``.

``golden`` is a :class:`~plutono_plugin.golden.GoldenFiles` for the running test, keeping its
files in ``golden/`` next to the test module; ``pytest --update-golden`` (or
``PLUTONO_PLUGIN_UPDATE_GOLDEN=1``) writes them instead of comparing.
"""

from __future__ import annotations

import os

import pytest

from .golden import UPDATE_ENV, GoldenFiles

__all__ = ("golden", "pytest_addoption")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--update-golden``."""
    parser.getgroup("plutono-plugin").addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="write golden response files instead of comparing with them",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> GoldenFiles:
    """Golden files of this test: ``<test dir>/golden/<test name>[-suffix].txt``."""
    update = bool(request.config.getoption("--update-golden")) or os.environ.get(UPDATE_ENV) == "1"
    return GoldenFiles(request.path.parent / "golden", request.node.name, update)
