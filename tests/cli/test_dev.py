"""The development commands: ``build --dev`` and ``host dev`` (restart on exit), ``--debug``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from plutono_plugin._build.targets import host_platform
from plutono_plugin.cli import main
from tests._tools import ROOT
from tests.runtime.test_reload import set_version

PLATFORM = host_platform()


def test_build_dev_launcher_watches_the_source_and_an_ini_value_wins(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT / "tests" / "plugins" / "reloadable", source)
    out = tmp_path / "out"
    assert main(["build", str(source), "--out", str(out), "--dev", "--platform", PLATFORM]) == 0
    # boot.py runs the source itself and turns hot reload on for it (setdefault: ini wins)
    assert json.loads((out / "lib" / "build.json").read_text())["dev_source"] == str(
        source.resolve()
    )
    boot = (out / "lib" / "boot.py").read_text()
    assert 'os.environ.setdefault("PL_PLUGIN_DEV_RELOAD", dev_source)' in boot
    assert main(["build", str(source), "--out", str(tmp_path / "release")]) == 0
    assert "dev_source" not in json.loads((tmp_path / "release" / "lib" / "build.json").read_text())


def _read_until(process: subprocess.Popen[str], text: str, timeout: float) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} not printed in {timeout} s; got {lines}")


def test_host_dev_shows_the_edited_answer_after_a_restart(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT / "tests" / "plugins" / "reloadable", source)
    assert (
        main(
            ["build", str(source), "--out", str(tmp_path / "out"), "--dev", "--platform", PLATFORM]
        )
        == 0
    )
    command = [
        *(sys.executable, "-m", "plutono_plugin", "host", str(tmp_path / "out"), "dev"),
        *("--debug", "--setting", "debug_port=0", "--query", '{"refId": "A"}'),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        first = _read_until(process, "started handshake", 20)
        assert first[0].startswith("serving plutono-reloadable-test-datasource")
        table = _read_until(process, "  1", 10)
        assert any("version" in line for line in table)
        time.sleep(0.3)
        set_version(source / "plugin.py", "7")
        _read_until(process, "restart 1:", 15)
        assert any(line.strip() == "7" for line in _read_until(process, "  7", 10))
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert "debugger listening on 127.0.0.1:" in stderr
    assert "hot reload: source changed" in stderr
    assert stderr.count("plugin stopped") == 2  # the reload, then Ctrl-C stopped the new one
