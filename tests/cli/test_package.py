"""``plutono-plugin package``: zips laid out as ``<id>/…``, one per platform and one for all."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from plutono_plugin._build.targets import host_platform
from plutono_plugin.cli import main
from tests._tools import ROOT

pytestmark = pytest.mark.timeout(300)  # zipping ~500 MB of shared libraries, several times

PLUGIN_ID = "plutono-quickstart-datasource"
STATIC = ("module.js", "img/logo.svg", "LICENSE", "CHANGELOG.md", "README.md")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quickstart with a frontend's static files, for this machine and darwin_arm64."""
    parent = tmp_path_factory.mktemp("package")
    source = parent / "src"
    shutil.copytree(ROOT / "examples" / "quickstart", source)
    (source / "module.js").write_text("define([], function () { return {}; });\n")
    (source / "img").mkdir()
    (source / "img" / "logo.svg").write_text("<svg/>\n")
    (source / "LICENSE").write_text("Apache-2.0\n")
    (source / "CHANGELOG.md").write_text("# 0.1.0\n")
    output = parent / "quickstart"
    platforms = ["--platform", host_platform(), "--platform", "darwin_arm64"]
    assert main(["build", str(source), "--out", str(output), *platforms]) == 0
    return output


@pytest.fixture(scope="module")
def dist(built: Path) -> Path:
    """``plutono-plugin package`` of the build (zipping takes a few seconds per tree)."""
    output = built.parent / "dist"
    assert main(["package", str(built), "--out", str(output)]) == 0
    return output


def test_static_files_are_shipped_beside_plugin_json(built: Path) -> None:
    for name in STATIC:
        assert (built / name).is_file(), name
    assert not (built / "lib" / "plugin" / "module.js").exists()


def test_one_zip_per_platform_and_one_for_all(dist: Path) -> None:
    names = sorted(path.name for path in dist.iterdir())
    assert names == sorted(
        [
            f"{PLUGIN_ID}-0.1.0.darwin_arm64.zip",
            f"{PLUGIN_ID}-0.1.0.{host_platform()}.zip",
            f"{PLUGIN_ID}-0.1.0.zip",
        ]
    )
    with zipfile.ZipFile(dist / f"{PLUGIN_ID}-0.1.0.darwin_arm64.zip") as bundle:
        entries = bundle.namelist()
        launcher = bundle.getinfo(f"{PLUGIN_ID}/gpx_quickstart_darwin_arm64")
        assert stat.S_IMODE(launcher.external_attr >> 16) & 0o111 == 0o111
    assert all(entry.startswith(f"{PLUGIN_ID}/") for entry in entries)
    assert f"{PLUGIN_ID}/plugin.json" in entries
    assert all(f"{PLUGIN_ID}/{name}" in entries for name in STATIC)
    trees = {entry.split("/")[3] for entry in entries if entry.startswith(f"{PLUGIN_ID}/lib/deps/")}
    assert trees == {"darwin-arm64-py3.11", "pure-py3.11"}  # pure Python: in every zip
    assert not [entry for entry in entries if "gpx_quickstart_linux" in entry]
    with zipfile.ZipFile(dist / f"{PLUGIN_ID}-0.1.0.zip") as bundle:
        everything = bundle.namelist()
    assert len({entry.split("/")[3] for entry in everything if "/lib/deps/" in entry}) == 4


def test_an_unzipped_archive_is_ready_for_plutono(
    dist: Path, public_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = dist / f"{PLUGIN_ID}-0.1.0.{host_platform()}.zip"
    plugins = public_dir / "plugins"
    plugins.mkdir()
    subprocess.run(["unzip", "-q", str(archive), "-d", str(plugins)], check=True, timeout=120)
    capsys.readouterr()
    assert main(["doctor", str(plugins / PLUGIN_ID)]) == 0
    assert "verdict     ready" in capsys.readouterr().out


def test_packaging_needs_a_version(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built, copy, symlinks=True)
    manifest = json.loads((copy / "plugin.json").read_text())
    del manifest["info"]["version"]
    (copy / "plugin.json").write_text(json.dumps(manifest))
    assert main(["package", str(copy), "--out", str(tmp_path / "dist")]) == 2
    assert "info.version must be set" in capsys.readouterr().err
