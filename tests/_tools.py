"""Locate and build the real peers the suite talks to: Go programs, Node packages, shared vectors.

Where a tool is missing the test skips with a visible reason; with ``PLUTONO_PLUGIN_STRICT=1``
(set by ``.ci/run``) it fails instead, because CI must always run the real host.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
INTEROP = ROOT / "tests" / "interop"
INTEROP_BIN = INTEROP / "bin"
SHARED_VECTORS = ROOT.parent / "shared" / "vectors"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test, or fail it when running under CI's strict mode."""
    if os.environ.get("PLUTONO_PLUGIN_STRICT") == "1":
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _built_after_its_source(source: Path, output: Path) -> bool:
    if not output.is_file():
        return False
    built = output.stat().st_mtime
    return all(path.stat().st_mtime <= built for path in source.iterdir() if path.is_file())


def go_binary(package: str) -> Path:
    """Build ``tests/interop/<package>`` (its own Go module) and return the binary's path.

    A binary newer than every file of its module (``make interop`` built it, or an earlier
    call) is used as is: even a cached ``go build`` takes seconds on a busy machine, inside a
    test's timeout. Modules come from the Go module proxy.
    """
    source = INTEROP / package
    output = INTEROP_BIN / package
    if _built_after_its_source(source, output):
        return output
    go = shutil.which("go")
    if go is None:
        skip_or_fail("the Go toolchain is not installed (needed for tests/interop)")
    INTEROP_BIN.mkdir(exist_ok=True)
    result = subprocess.run(
        [go, "build", "-o", str(output), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"go build {package} failed:\n{result.stderr}", pytrace=False)
    return output


def node_package(package: str) -> Path:
    """Install ``tests/interop/<package>``'s npm dependencies (once) and return its folder."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        skip_or_fail(f"Node.js/npm is not installed (needed for tests/interop/{package})")
    folder = INTEROP / package
    if not (folder / "node_modules").is_dir():
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci in {folder} failed:\n{result.stderr}", pytrace=False)
    return folder


def shared_vector(name: str) -> Path:
    """Path of a test vector in ``../shared/vectors`` (read in place, never copied)."""
    path = SHARED_VECTORS / name
    if not path.is_file():
        skip_or_fail(f"shared test vector {path} is absent (clone outside the workplace)")
    return path


def load_example(example: str = "quickstart") -> ModuleType:
    """Import ``examples/<example>/plugin.py`` once per process (its metrics register once)."""
    name = f"{example}_example"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / example / "plugin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def write_shell_plugin(folder: Path, script: str, *, plugin_type: str = "datasource") -> Path:
    """A plugin directory whose executable is a ``/bin/sh`` script (a misbehaving plugin)."""
    import json
    import stat

    from plutono_plugin._host.wire import executable_path, read_manifest

    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"id": "test-ds", "type": plugin_type, "backend": True, "executable": "gpx_test"}
    (folder / "plugin.json").write_text(json.dumps(manifest))
    path = executable_path(read_manifest(folder))
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return folder
