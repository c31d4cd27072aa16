"""The framework installs from its wheel into a fresh venv, and a new project's tests pass there.

What ``make dist`` does (``python -m build``: sdist, then the wheel from it) runs once in a
session fixture with its own budget (``timeout(900)``; every subprocess has its own timeout),
then ``pip install '<wheel>[arrow]' pytest pytest-asyncio`` into a new venv, exactly as the
README tells an author to.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._tools import ROOT

pytestmark = pytest.mark.timeout(900)


@dataclass(frozen=True)
class Installed:
    dist: Path
    python: Path
    project: Path


def run(arguments: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        arguments, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert completed.returncode == 0, f"{arguments}:\n{completed.stdout}\n{completed.stderr}"
    return completed


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("dist")
    dist = work / "dist"
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], ROOT, timeout=300)
    (wheel,) = dist.glob("plutono_plugin-*.whl")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], work, timeout=120)
    python = venv / "bin" / "python"
    install = [
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        f"{wheel}[arrow]",  # the test kit decodes frames with pyarrow
        "pytest",
        "pytest-asyncio",
    ]
    run(install, work, timeout=600)
    project = work / "weather"
    run([str(venv / "bin" / "plutono-plugin"), "new", str(project)], work, timeout=120)
    return Installed(dist, python, project)


def test_dist_holds_an_sdist_and_a_wheel(installed: Installed) -> None:
    names = sorted(path.name for path in installed.dist.iterdir())
    assert sorted(name.rsplit(".", 1)[-1] for name in names) == ["gz", "whl"]
    (wheel,) = [name for name in names if name.endswith(".whl")]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"pip install '/path/to/{wheel}[arrow]' " in readme  # the README names the file


def test_the_wheel_serves_a_new_project_in_a_fresh_venv(installed: Installed) -> None:
    located = run(
        [str(installed.python), "-c", "import plutono_plugin; print(plutono_plugin.__file__)"],
        installed.project,
        timeout=60,
    )
    assert str(ROOT) not in located.stdout  # the installed wheel, not this checkout
    tests = run(
        [str(installed.python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        installed.project,
        timeout=300,
    )
    assert "5 passed" in tests.stdout
