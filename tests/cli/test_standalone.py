"""``build --standalone``: the same launcher name and services, with no Python on the target."""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from plutono_plugin._build.targets import host_platform
from plutono_plugin.cli import main
from tests._tools import ROOT, go_binary
from tests.cli.test_shipped import isolated, serve_isolated

pytestmark = [pytest.mark.go, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    parent = tmp_path_factory.mktemp("standalone")
    output = parent / "quickstart"
    assert (
        main(["build", str(ROOT / "examples" / "quickstart"), "--out", str(output), "--standalone"])
        == 0
    )
    place = Path("/tmp") / f"plutono-standalone-{os.getpid()}"
    shutil.rmtree(place, ignore_errors=True)
    shutil.copytree(output, place / "quickstart", symlinks=True)
    shutil.copy2(go_binary("host"), place / "gohost")
    place.chmod(0o755)
    yield place
    shutil.rmtree(place, ignore_errors=True)


def test_the_bundle_is_named_like_the_launcher_and_holds_an_interpreter(
    standalone: Path,
) -> None:
    directory = standalone / "quickstart"
    launcher = directory / f"gpx_quickstart_{host_platform()}"
    assert launcher.is_file() and os.access(launcher, os.X_OK)
    assert launcher.read_bytes()[:4] == b"\x7fELF"  # the bootloader itself, no script
    assert [path.name for path in directory.glob("gpx_quickstart_*")] == [launcher.name]
    assert list((directory / "lib").glob("libpython3*"))


def test_it_serves_every_service_with_no_python_anywhere(standalone: Path, tmp_path: Path) -> None:
    # Beyond the development setup, the system's Python is hidden too, and PATH has nothing.
    pythons = [
        Path(p) for p in glob.glob("/usr/lib/python3*") + glob.glob("/usr/local/lib/python3*")
    ]
    wrapper = isolated(extra=[path for path in pythons if path.is_dir()])
    directory = standalone / "quickstart"
    stderr = tmp_path / "host.stderr"
    serve_isolated(directory, standalone / "gohost", wrapper, "/nonexistent", stderr, standalone)
