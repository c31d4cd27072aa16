"""The command line: build errors name the problem; run refuses what is not a plugin."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from plutono_plugin.cli import main
from tests._tools import ROOT


def write_source(folder: Path, manifest: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.json").write_text(json.dumps(manifest))
    (folder / "plugin.py").write_text("from plutono_plugin import Plugin\nplugin = Plugin()\n")
    return folder


GOOD = {
    "id": "x-datasource",
    "name": "X",
    "type": "datasource",
    "backend": True,
    "executable": "gpx_x",
}


def test_build_writes_manifest_and_executable_launchers(tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", GOOD)
    assert main(["build", str(source), "--out", str(tmp_path / "out")]) == 0
    launchers = sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith("gpx_"))
    assert launchers == [
        "gpx_x_darwin_amd64",
        "gpx_x_darwin_arm64",
        "gpx_x_linux_amd64",
        "gpx_x_linux_arm64",
    ]
    mode = (tmp_path / "out" / "gpx_x_linux_amd64").stat().st_mode
    assert mode & stat.S_IXUSR
    assert json.loads((tmp_path / "out" / "plugin.json").read_text())["id"] == "x-datasource"


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({**GOOD, "backend": False}, '"backend": true'),
        ({**GOOD, "type": "panel"}, "cannot have a backend"),
        ({k: v for k, v in GOOD.items() if k != "executable"}, "'executable'"),
        ({k: v for k, v in GOOD.items() if k != "id"}, "'id' must be a non-empty string"),
        ({k: v for k, v in GOOD.items() if k != "name"}, "'name' must be a non-empty string"),
        ({k: v for k, v in GOOD.items() if k != "type"}, "'type' must be a non-empty string"),
        ({k: v for k, v in GOOD.items() if k != "backend"}, '"backend": true'),
    ],
)
def test_build_refuses_a_manifest_plutono_would_not_start(
    tmp_path: Path, manifest: dict[str, object], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_source(tmp_path / "src", manifest)
    assert main(["build", str(source), "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err


def test_build_without_manifest_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "src").mkdir()
    assert main(["build", str(tmp_path / "src"), "--out", str(tmp_path / "out")]) == 2
    assert "plugin.json does not exist" in capsys.readouterr().err


def test_run_refuses_an_entry_that_is_not_a_plugin(tmp_path: Path) -> None:
    (tmp_path / "notplugin.py").write_text("plugin = 42\n")
    env = {**os.environ, "grafana_plugin_type": "datasource", "PYTHONPATH": str(tmp_path)}
    env.pop("PLUGIN_PROTOCOL_VERSIONS", None)
    result = subprocess.run(
        [sys.executable, "-m", "plutono_plugin", "run", "notplugin:plugin"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "notplugin:plugin is a int, not a Plugin" in result.stderr
