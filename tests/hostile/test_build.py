"""Bad input for ``build``, ``package``, ``doctor`` and the launcher (issue 17, items 12-17).

Each case is what a careless or hostile plugin author tried: an ``--out`` that deletes the
source, links out of the source tree, names that inject into the launcher or escape
``--out``, output and errors at import time, a process that ``pgrep`` cannot find.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plutono_plugin._build.launcher import launcher_script
from plutono_plugin._build.targets import host_platform
from plutono_plugin.cli import main
from plutono_plugin.cli.build import build_plugin_dir
from plutono_plugin.host import PluginHost
from tests._tools import ROOT, skip_or_fail

CODE = "from plutono_plugin import Plugin\nplugin = Plugin()\n"
MANIFEST: dict[str, Any] = {
    "id": "x-datasource",
    "name": "X",
    "type": "datasource",
    "backend": True,
    "executable": "gpx_x",
    "info": {"version": "1.0.0"},
}
HOST = ["--platform", host_platform()]


def make_source(folder: Path, manifest: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.json").write_text(json.dumps(manifest or MANIFEST))
    (folder / "plugin.py").write_text(CODE)
    return folder


def build(source: Path, output: Path) -> int:
    return main(["build", str(source), "--out", str(output), *HOST])


# -- item 12: --out and the source ------------------------------------------------------------


def test_out_equal_to_the_source_is_refused_and_the_source_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_source(tmp_path / "src")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (source / "tests").mkdir()
    (source / "tests" / "test_plugin.py").write_text("def test_it() -> None: ...\n")
    assert build(source, source) == 2
    assert "is the source directory" in capsys.readouterr().err
    assert (source / ".git" / "HEAD").is_file()
    assert (source / "tests" / "test_plugin.py").is_file()
    assert (source / "plugin.py").read_text() == CODE


def test_out_inside_the_source_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_source(tmp_path / "src")
    assert build(source, source / "build" / "x") == 2
    assert "is inside the source directory" in capsys.readouterr().err
    assert not (source / "build").exists()


def test_a_source_inside_the_replaced_out_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An earlier plugin directory as --out, with the source kept inside it."""
    output = tmp_path / "out"
    output.mkdir()
    (output / "plugin.json").write_text(json.dumps(MANIFEST))
    source = make_source(output / "src")
    assert build(source, output) == 2
    assert "is inside --out" in capsys.readouterr().err
    assert (source / "plugin.py").read_text() == CODE


def test_out_through_a_link_to_the_source_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_source(tmp_path / "src")
    (tmp_path / "link").symlink_to(source)
    assert build(source, tmp_path / "link") == 2
    assert "symbolic link" in capsys.readouterr().err
    assert (source / "plugin.py").is_file()


# -- item 13: symbolic links -----------------------------------------------------------------


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "shadow"
    path.parent.mkdir()
    path.write_text("root:$6$secret\n")
    return path


SECRET = "<secret>"  # stands for a file outside the source; its folder for "<secret>/.."


@pytest.mark.parametrize(
    ("links", "message"),
    [
        ([("README.md", SECRET)], "README.md is a symbolic link to "),
        ([("img", SECRET + "/..")], "img is a symbolic link to "),
        ([("helpers/data.py", SECRET)], "helpers/data.py is a symbolic link to "),
        ([("img/again", "img")], "img/again is a symbolic link loop"),
        (
            [("img/a.svg", "img/b.svg"), ("img/b.svg", "img/a.svg")],
            "img/a.svg is a symbolic link loop",
        ),
        ([("img/logo.svg", "img/gone.svg")], "img/logo.svg is a broken symbolic link"),
    ],
)
def test_links_leaving_the_source_or_looping_are_refused(
    tmp_path: Path,
    secret: Path,
    links: list[tuple[str, str]],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = make_source(tmp_path / "src")
    for name, target in links:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        pointed = secret.parent if target == SECRET + "/.." else secret
        (source / name).symlink_to(pointed if target.startswith(SECRET) else source / target)
    output = tmp_path / "out"
    assert build(source, output) == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


# -- item 14: names in plugin.json -----------------------------------------------------------


def _with(field: str, value: object) -> dict[str, Any]:
    if field == "info.version":
        return {**MANIFEST, "info": {"version": value}}
    return {**MANIFEST, field: value}


UNSAFE = [
    ("id", "x\ntouch /tmp/injected-by-plugin-id #"),
    ("id", "../../escape"),
    ("id", "/tmp/absolute-id"),
    ("id", "a b"),
    ("executable", "../gpx_escape"),
    ("executable", "/tmp/gpx_absolute"),
    ("executable", "gpx\nx"),
    ("info.version", "1.0\n"),
    ("info.version", "../../1.0"),
    ("info.version", 1),
]


@pytest.mark.parametrize(("field", "value"), UNSAFE)
def test_build_refuses_unsafe_names(
    tmp_path: Path, field: str, value: object, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_source(tmp_path / "src", _with(field, value))
    output = tmp_path / "place" / "out"
    assert build(source, output) == 2
    assert f"{field} {value!r} is not a safe name" in capsys.readouterr().err
    assert not (tmp_path / "place").exists()


def test_the_launcher_refuses_an_id_that_would_add_a_shell_line() -> None:
    with pytest.raises(ValueError, match="not a safe name"):
        launcher_script("x\nrm -rf ~", "python3")


# -- package ---------------------------------------------------------------------------------


def fake_build(folder: Path, manifest: dict[str, Any] | None = None) -> Path:
    """What package looks at: plugin.json, a launcher, lib/build.json."""
    folder.mkdir(parents=True)
    (folder / "plugin.json").write_text(json.dumps(MANIFEST if manifest is None else manifest))
    launcher = folder / "gpx_x_linux_amd64"
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    (folder / "lib").mkdir()
    config = {"plugin_id": "x-datasource", "entry": "plugin:plugin", "python": "python3"}
    (folder / "lib" / "build.json").write_text(json.dumps({**config, "python_versions": ["3.11"]}))
    return folder


def zips_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.zip"))


@pytest.mark.parametrize(("field", "value"), UNSAFE)
def test_package_refuses_unsafe_names(
    tmp_path: Path, field: str, value: object, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = fake_build(tmp_path / "a" / "b" / "plugin", _with(field, value))
    assert main(["package", str(plugin), "--out", str(tmp_path / "a" / "b" / "dist")]) == 2
    assert f"{field} {value!r} is not a safe name" in capsys.readouterr().err
    assert zips_under(tmp_path) == []


def test_package_without_id_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin = fake_build(tmp_path / "plugin", {k: v for k, v in MANIFEST.items() if k != "id"})
    assert main(["package", str(plugin), "--out", str(tmp_path / "dist")]) == 2
    assert "'id' must be a non-empty string" in capsys.readouterr().err


def test_package_never_zips_a_link_leaving_the_directory(
    tmp_path: Path, secret: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = fake_build(tmp_path / "plugin")
    (plugin / "README.md").symlink_to(secret)
    assert main(["package", str(plugin), "--out", str(tmp_path / "dist")]) == 2
    assert "README.md is a symbolic link to " in capsys.readouterr().err
    assert zips_under(tmp_path) == []


def test_package_refuses_a_dev_build_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = fake_build(tmp_path / "plugin")
    config = json.loads((plugin / "lib" / "build.json").read_text())
    config["dev_source"] = str(tmp_path / "src")
    (plugin / "lib" / "build.json").write_text(json.dumps(config))
    assert main(["package", str(plugin), "--out", str(tmp_path / "dist")]) == 2
    error = capsys.readouterr().err
    assert "is a --dev build" in error
    assert "--allow-dev" in error
    assert zips_under(tmp_path) == []
    assert main(["package", str(plugin), "--out", str(tmp_path / "dist"), "--allow-dev"]) == 0
    assert len(zips_under(tmp_path)) == 2


def test_package_refuses_out_inside_the_plugin_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = fake_build(tmp_path / "plugin")
    assert main(["package", str(plugin), "--out", str(plugin / "dist")]) == 2
    assert "inside the plugin directory" in capsys.readouterr().err


@pytest.mark.timeout(180)
def test_package_streams_a_large_file(tmp_path: Path) -> None:
    """A 1 GiB (sparse) file is zipped with a loosely bounded RSS; whole reads took 1 GiB."""
    plugin = fake_build(tmp_path / "plugin")
    size = 1 << 30
    with (plugin / "lib" / "big.bin").open("wb") as handle:
        handle.truncate(size)
    # VmHWM is this process's own peak: ru_maxrss keeps the forking parent's RSS across exec,
    # so it reported pytest's size (350-490 MB in a full run), not the packager's.
    script = (
        "import re, sys\n"
        "from plutono_plugin.cli import main\n"
        "code = main(['package', sys.argv[1], '--out', sys.argv[2]])\n"
        "status = open('/proc/self/status').read()\n"
        "print(code, re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(plugin), str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    code, peak_kib = result.stdout.splitlines()[-1].split()
    assert code == "0", result.stderr
    assert int(peak_kib) < 256 * 1024  # Linux reports KiB
    with zipfile.ZipFile(tmp_path / "dist" / "x-datasource-1.0.0.zip") as bundle:
        assert bundle.getinfo("x-datasource/lib/big.bin").file_size == size


# -- item 16: messages instead of tracebacks -------------------------------------------------


def nested(depth: int) -> str:
    return '{"id": ' + "[" * depth + "]" * depth + "}"


def test_a_deeply_nested_plugin_json_is_named_by_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_source(tmp_path / "src")
    (source / "plugin.json").write_text(nested(100_000))
    assert build(source, tmp_path / "out") == 2
    assert "is nested too deeply" in capsys.readouterr().err


def test_a_deeply_nested_plugin_json_is_named_by_package_and_doctor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = fake_build(tmp_path / "plugin")
    (plugin / "plugin.json").write_text(nested(100_000))
    assert main(["package", str(plugin), "--out", str(tmp_path / "dist")]) == 2
    assert "is nested too deeply" in capsys.readouterr().err
    assert main(["doctor", str(plugin)]) == 1
    assert "plugin.json" in capsys.readouterr().out


def test_doctor_names_a_setting_without_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = fake_build(tmp_path / "plugin")
    assert main(["doctor", str(plugin), "--setting", "novalue"]) == 2
    assert "--setting 'novalue': expected KEY=VALUE" in capsys.readouterr().err


def boot(lib: Path, config: object, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run a copy of boot.py as the launcher does, next to ``config`` as lib/build.json."""
    lib.mkdir(parents=True)
    (lib / "deps").mkdir()
    (lib / "boot.py").write_text((ROOT / "plutono_plugin" / "_build" / "boot.py").read_text())
    (lib / "build.json").write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-I", "-S", "-B", str(lib / "boot.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {
                "plugin_id": "x",
                "entry": "plugin:plugin",
                "python": "python3",
                "python_versions": [],
            },
            "python_versions must be a non-empty list",
        ),
        ({"plugin_id": "x", "python_versions": ["3.11"]}, "entry must be a non-empty string"),
        ([1, 2], "it holds no JSON object"),
    ],
)
def test_a_damaged_build_json_is_one_hclog_line(
    tmp_path: Path, config: object, message: str
) -> None:
    result = boot(tmp_path / "lib", config)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    record = json.loads(lines[0])
    assert record["@level"] == "error"
    assert message in record["@message"]
    assert "rebuild with plutono-plugin build" in record["@message"]


def run_entry(source: Path, stderr: Path) -> subprocess.Popen[str]:
    """``plutono-plugin run`` as a launcher ends: under a host's environment, from ``source``.

    stderr goes to a file: a pipe nobody reads while the test waits for stdout would fill.
    """
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PLUGIN_", "PL_", "grafana_plugin"))
    }
    environment |= {"grafana_plugin_type": "datasource", "PLUGIN_PROTOCOL_VERSIONS": "2"}
    with stderr.open("w") as sink:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "plutono_plugin", "run", "plugin:plugin"],
            cwd=source,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
        )


def records(stderr: str) -> list[dict[str, Any]]:
    """Every stderr line as an hclog record; a raw line fails the test."""
    parsed = []
    for line in stderr.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict) and isinstance(record["@message"], str), line
        parsed.append(record)
    return parsed


def test_output_at_import_time_becomes_error_lines_and_the_handshake_comes_first(
    tmp_path: Path,
) -> None:
    source = make_source(tmp_path / "src")
    (source / "plugin.py").write_text(
        "import os, sys\nprint('hello from import')\nsys.stderr.write('raw stderr\\n')\n"
        "os.write(1, b'written to fd 1\\n')\nprint('x' * 200_000)\n" + CODE
    )
    process = run_entry(source, tmp_path / "stderr")
    try:
        assert process.stdout is not None
        handshake = process.stdout.readline()
        assert handshake.startswith("1|2|unix|"), handshake
    finally:
        process.terminate()
        process.communicate(timeout=30)
    stderr = (tmp_path / "stderr").read_text()
    assert max(len(line) for line in stderr.splitlines()) < 64 * 1024  # contract 1.11
    errors = [r["@message"] for r in records(stderr) if r["@level"] == "error"]
    for text in ("hello from import", "raw stderr", "written to fd 1"):
        assert f"plugin:plugin wrote while importing: {text}" in errors
    assert sum(message.count("x") for message in errors) >= 200_000  # in pieces, none lost


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "import not_shipped_anywhere\n",
            "ModuleNotFoundError: No module named 'not_shipped_anywhere'; fix: add the "
            "distribution that provides 'not_shipped_anywhere' to requirements.txt",
        ),
        ("raise RuntimeError('no config')\n", "RuntimeError: no config; fix: fix the error at"),
        ("plugin = 3\n", "plugin:plugin is a int, not a Plugin"),
    ],
)
def test_an_import_error_is_one_error_line(tmp_path: Path, code: str, message: str) -> None:
    source = make_source(tmp_path / "src")
    (source / "plugin.py").write_text(code)
    process = run_entry(source, tmp_path / "stderr")
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stdout == ""
    stderr = (tmp_path / "stderr").read_text()
    [record] = records(stderr)
    assert record["@level"] == "error"
    assert message in record["@message"]


# -- item 17: the process name ---------------------------------------------------------------


@pytest.fixture(scope="module")
def quickstart_here(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The quickstart built for this machine only (seconds with the dependency cache warm)."""
    output = tmp_path_factory.mktemp("named") / "quickstart"
    build_plugin_dir(ROOT / "examples" / "quickstart", output, platforms=[host_platform()])
    yield output


def children_named(pattern: str) -> list[list[bytes]]:
    """Command lines of this process's children that ``pgrep`` finds by ``pattern``."""
    found = subprocess.run(
        ["pgrep", "-P", str(os.getpid()), pattern],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in found.stdout.split()]


@pytest.mark.timeout(300)  # the module's build, the first time
async def test_pgrep_finds_the_shipped_plugin_by_its_executable_name(
    quickstart_here: Path,
) -> None:
    if not sys.platform.startswith("linux"):
        skip_or_fail("process names are set on Linux only")
    async with PluginHost.start(quickstart_here) as host:
        assert (await host.check_health()).status == "OK"
        found = await asyncio.to_thread(children_named, "gpx_quickstart")
    assert len(found) == 1, "pgrep gpx_quickstart found nothing"
    assert found[0][-2].endswith(f"/gpx_quickstart_{host_platform()}".encode())


def test_an_out_that_cannot_be_created_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_source(tmp_path / "src")
    assert build(source, Path("/proc/plutono-plugin-nowhere/out")) == 2
    assert "/proc/plutono-plugin-nowhere" in capsys.readouterr().err


def test_doctor_never_starts_an_executable_outside_the_plugin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "started"
    plugin = fake_build(tmp_path / "plugin", {**MANIFEST, "executable": "../evil"})
    evil = tmp_path / f"evil_{host_platform()}"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\n")
    evil.chmod(0o755)
    assert main(["doctor", str(plugin)]) == 1
    assert "executable '../evil' is not a safe name" in capsys.readouterr().out
    assert not marker.exists()
