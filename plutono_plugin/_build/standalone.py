"""``build --standalone``: a plugin directory that needs no Python on the target at all.

PyInstaller (``pip install 'plutono-plugin[standalone]'``) freezes the interpreter, the
framework, the plugin and its dependencies into a one-directory bundle: its bootloader *is*
the launcher (``<executable>_<goos>_<goarch>``, next to ``lib/`` with everything else), so
Plutono starts it like any Go plugin. One-directory rather than one-file: nothing is unpacked
at start (no temporary files, no extra start-up time). The bundle is for the build machine's
own platform (PyInstaller cannot cross-build); the analysis runs in a clean virtual
environment holding only the runtime requirements, pinned like the wheel trees, so nothing
from the development environment ends up in the bundle. That environment is cached.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import venv
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ConfigurationError
from .files import copy_files
from .resolve import Requirements, cache_directory
from .targets import host_platform

__all__ = ("PYINSTALLER", "build_standalone")

PYINSTALLER = "pyinstaller>=6.10,<7"
"""The freezer, from PyPI: maintained, with hooks for pyarrow (pyinstaller-hooks-contrib)."""

_FRAMEWORK = Path(__file__).resolve().parent.parent


def _run(command: list[str], what: str, **options: Any) -> None:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, check=False, **options
    )
    if result.returncode != 0:
        tail = " ".join(result.stderr.strip().splitlines()[-8:])
        raise ConfigurationError(f"--standalone: {what} failed: {tail}")


def _environment(requirements: Requirements, say: Callable[[str], None]) -> Path:
    """A cached virtual environment with the runtime requirements and PyInstaller."""
    material = "\n".join(
        [PYINSTALLER, sys.version, *requirements.framework, *requirements.plugin]
        + requirements.constraints
    )
    key = hashlib.sha256(material.encode()).hexdigest()[:20]
    final = cache_directory() / "standalone" / key
    python = final / "bin" / "python"
    if python.is_file():
        return python
    say("a clean environment for PyInstaller (cached)")
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".partial-", dir=final.parent))
    try:
        # A venv's paths are absolute, so it is created in place; a failure removes it.
        venv.create(final, with_pip=True, clear=True)
        constraints = scratch / "constraints.txt"
        constraints.write_text("\n".join(requirements.constraints) + "\n", encoding="utf-8")
        plugin = scratch / "requirements.txt"
        plugin.write_text("\n".join(requirements.plugin) + "\n", encoding="utf-8")
        command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command += ["--only-binary=:all:", "-c", str(constraints), "-r", str(plugin)]
        _run([*command, *requirements.framework, PYINSTALLER], "installing the requirements")
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return python


def build_standalone(
    source: Path,
    folder: Path,
    manifest: dict[str, Any],
    entry: str,
    code: list[tuple[PurePosixPath, Path]],
    requirements: Requirements,
    say: Callable[[str], None],
) -> tuple[list[Path], list[str]]:
    """Freeze the plugin into ``folder``; returns the launcher and no dependency trees."""
    python = _environment(requirements, say)
    name = f"{manifest['executable']}_{host_platform()}"
    module = entry.partition(":")[0]
    with tempfile.TemporaryDirectory(prefix="plutono-standalone-") as scratch_name:
        scratch = Path(scratch_name)
        paths = scratch / "paths"
        shutil.copytree(
            _FRAMEWORK,
            paths / "plutono_plugin",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        copy_files(code, paths)
        script = scratch / "entry.py"
        # The plugin is a hidden import: importing it here would run its code before the
        # cookie check, which must come first (contract 1.3); serve() imports it after.
        script.write_text(
            "import sys\n"
            "from plutono_plugin.cli.serve import serve\n"
            f"sys.exit(serve({entry!r}))\n",
            encoding="utf-8",
        )
        say(f"PyInstaller: {name} with lib/ for {host_platform()}")
        command = [str(python), "-m", "PyInstaller", "--noconfirm", "--onedir", "--log-level"]
        command += ["WARN", "--name", name, "--contents-directory", "lib"]
        command += ["--distpath", str(scratch / "dist"), "--workpath", str(scratch / "work")]
        command += ["--specpath", str(scratch), "--paths", str(paths)]
        command += ["--hidden-import", module, str(script)]
        _run(command, "PyInstaller", cwd=scratch)
        for item in (scratch / "dist" / name).iterdir():
            shutil.move(str(item), folder / item.name)
    return [folder / name], []
