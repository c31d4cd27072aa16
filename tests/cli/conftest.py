"""Fixtures of the command-line tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A folder every user may enter, as Plutono's plugins directory is for its service user.

    pytest's own temporary folders are private (0700), which ``doctor`` rightly reports.
    """
    folder = Path(tempfile.mkdtemp(prefix="plutono-public-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
