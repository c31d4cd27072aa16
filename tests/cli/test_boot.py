"""The shipped launcher's choice of dependency tree, for every OS, architecture and libc."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from plutono_plugin._build.boot import detect_libc, problem_line, select, variant_name
from plutono_plugin._build.targets import variants
from plutono_plugin._host.wire import parse_log_line

BUILT = [f"{variant.name}-py3.11" for variant in variants(("linux_amd64", "linux_arm64"))] + [
    "darwin-amd64-py3.11",
    "darwin-arm64-py3.11",
]


@pytest.mark.parametrize(
    ("goos", "goarch", "libc", "expected"),
    [
        ("linux", "amd64", "glibc", "linux-amd64-glibc-py3.11"),
        ("linux", "amd64", "musl", "linux-amd64-musl-py3.11"),
        ("linux", "arm64", "glibc", "linux-arm64-glibc-py3.11"),
        ("linux", "arm64", "musl", "linux-arm64-musl-py3.11"),
        ("darwin", "amd64", "", "darwin-amd64-py3.11"),
        ("darwin", "arm64", "", "darwin-arm64-py3.11"),
    ],
)
def test_each_platform_gets_its_own_tree(goos: str, goarch: str, libc: str, expected: str) -> None:
    name, problem = select(goos, goarch, libc, (3, 11), BUILT, ["3.11"], "python3")
    assert problem is None
    assert name == expected


def test_every_built_variant_is_selectable() -> None:
    """The names the build writes are the names the launcher looks for."""
    for variant in variants(("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64")):
        assert variant_name(variant.goos, variant.goarch, variant.libc) == variant.name
        name, problem = select(
            variant.goos, variant.goarch, variant.libc, (3, 11), BUILT, ["3.11"], "python3"
        )
        assert (name, problem) == (f"{variant.name}-py3.11", None)


def test_the_python_version_picks_the_tree_among_several() -> None:
    built = ["linux-amd64-glibc-py3.11", "linux-amd64-glibc-py3.12"]
    name, _ = select("linux", "amd64", "glibc", (3, 12), built, ["3.11", "3.12"], "python3")
    assert name == "linux-amd64-glibc-py3.12"


@pytest.mark.parametrize(
    ("goos", "goarch", "libc", "version", "message", "fix"),
    [
        (
            "linux",
            "riscv64",
            "glibc",
            (3, 11),
            "no dependencies for linux-riscv64-glibc (Python 3.11)",
            "--platform linux_riscv64",
        ),
        ("linux", "amd64", "glibc", (3, 9), "python3 is Python 3.9, too old", "Python 3.11"),
        ("linux", "amd64", "glibc", (3, 13), "built for Python 3.11", "--python-version 3.13"),
    ],
)
def test_what_cannot_run_is_named_with_its_fix(
    goos: str,
    goarch: str,
    libc: str,
    version: tuple[int, int],
    message: str,
    fix: str,
) -> None:
    built = ["linux-amd64-glibc-py3.11"]
    name, problem = select(goos, goarch, libc, version, built, ["3.11"], "python3", "my-ds")
    assert name is None and problem is not None
    assert message in problem["message"]
    assert fix in problem["fix"]
    line = problem_line(problem)
    record, issue = parse_log_line(line)  # as go-plugin reads it (contract 1.11)
    assert issue is None
    assert record.level == "error" and message in record.message and fix in record.message
    assert isinstance(json.loads(line)["@message"], str)


@pytest.mark.parametrize(
    ("multiarch", "expected"),
    [("x86_64-linux-gnu", "glibc"), ("aarch64-linux-musl", "musl"), ("", "glibc")],
)
def test_libc_from_the_interpreter_build(multiarch: str, expected: str, tmp_path: Path) -> None:
    plain = tmp_path / "python"
    plain.write_bytes(b"\x7fELF" + b"\0" * 60 + b"/lib64/ld-linux-x86-64.so.2\0")
    assert detect_libc(multiarch, str(plain)) == expected


def test_libc_from_the_elf_interpreter_when_the_build_does_not_say(tmp_path: Path) -> None:
    alpine = tmp_path / "python3"
    alpine.write_bytes(b"\x7fELF" + b"\0" * 60 + b"/lib/ld-musl-aarch64.so.1\0")
    assert detect_libc("", str(alpine)) == "musl"
    assert detect_libc("", str(tmp_path / "missing")) == "glibc"


_RENAME = """
import builtins, sys
from plutono_plugin._build import boot
if sys.argv[1] == "no-proc":  # /proc not mounted: the ctypes prctl fallback
    real_open = builtins.open
    def no_proc(path, *args, **kwargs):
        if str(path).startswith("/proc/self/comm"):
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)
    boot.open = no_proc
renamed = boot.set_process_name("gpx_quickstart_linux_amd64")
with builtins.open("/proc/self/comm") as handle:
    print(renamed, handle.read().strip(), "ctypes" in sys.modules)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process names are Linux's")
@pytest.mark.parametrize(("how", "uses_ctypes"), [("proc", False), ("no-proc", True)])
def test_the_process_takes_the_launchers_name(how: str, uses_ctypes: bool) -> None:
    """The kernel keeps 15 bytes; /proc/self/comm spares ctypes' import, prctl is the fallback."""
    result = subprocess.run(
        [sys.executable, "-c", _RENAME, how], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["True", "gpx_quickstart_", str(uses_ctypes)]
