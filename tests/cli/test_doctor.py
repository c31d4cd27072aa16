"""``plutono-plugin doctor``: launched as Plutono would, problems in plain words."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from plutono_plugin._build.targets import host_platform
from plutono_plugin.cli import main
from tests._tools import ROOT


def build(source: Path, output: Path) -> Path:
    assert main(["build", str(source), "--out", str(output), "--platform", host_platform()]) == 0
    return output


@pytest.fixture
def quickstart(public_dir: Path) -> Path:
    return build(ROOT / "examples" / "quickstart", public_dir / "qs")


def doctor(directory: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["doctor", str(directory), *extra])
    return code, capsys.readouterr().out


def test_a_good_build_is_ready(quickstart: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = doctor(quickstart, capsys)
    assert code == 0, report
    lines = dict(line.split(None, 1) for line in report.splitlines())
    assert lines["started"].startswith(f"gpx_quickstart_{host_platform()} in ")
    assert lines["services"] == "Diagnostics, Data, Resource"
    assert lines["health"] == "OK: quickstart datasource is working"
    assert lines["files"] == "readable by a service user"
    assert lines["verdict"].startswith("ready")


def test_a_file_the_service_user_cannot_read_is_the_first_problem(
    quickstart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = quickstart
    (copy / "lib" / "plugin" / "plugin.py").chmod(0o600)
    code, report = doctor(copy, capsys)
    assert code == 1
    assert "first problem: 1 file(s) other users cannot read, e.g. lib/plugin/plugin.py" in report
    assert f"chmod -R a+rX {copy}" in report


def test_a_wrong_interpreter_is_named(quickstart: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = doctor(quickstart, capsys, "--setting", "python=/opt/none/python3")
    assert code == 1
    assert (
        "first problem: the plugin exited before the handshake: "
        "Python interpreter /opt/none/python3 not found" in report
    )


def test_writing_into_the_plugin_directory_is_reported(
    tmp_path: Path, public_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT / "examples" / "quickstart", source)
    code = (source / "plugin.py").read_text()
    code += "\nfrom pathlib import Path\nPath(__file__).with_name('state.json').write_text('{}')\n"
    (source / "plugin.py").write_text(code)
    # The import check at build time runs in the source tree: that file is not shipped.
    built = build(source, public_dir / "qs")
    assert not (built / "lib" / "plugin" / "state.json").exists()
    status, report = doctor(built, capsys)
    assert status == 1
    assert "the plugin wrote into its own directory (lib/plugin/state.json" in report
