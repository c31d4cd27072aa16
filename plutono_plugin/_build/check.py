"""Refuse, before anything is written, a plugin that Plutono or the launcher could not start.

``plugin.json`` needs ``id``, ``name``, ``type`` (``datasource`` or ``app``: the types with a
backend, contract 2.1), ``"backend": true`` and ``executable``. ``id``, ``executable`` and
``info.version`` name files (the launchers, the zips) and appear in the launcher script, so
they must be safe names (:func:`check_names`). The plugin's code must compile, and the entry
must import, in a separate interpreter, to a :class:`~plutono_plugin.Plugin`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ConfigurationError
from .files import IGNORE_FILE, read_excludes, tree_files

__all__ = (
    "check_entry",
    "check_names",
    "check_shipped_import",
    "load_json",
    "plugin_sources",
    "read_build_manifest",
)

_REQUIRED = ("id", "name", "type", "executable")

# A name that is one path component, one shell word and one line: letters, digits, ".", "_",
# "-" (and "+" in a version, for semver build metadata), starting with a letter or digit.
_SAFE = {
    "id": re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"),
    "executable": re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"),
    "info.version": re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}"),
}

# Runs in a child interpreter: a plugin's import-time side effects stay out of the build.
_IMPORT_CHECK = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
module_name, _, attribute = sys.argv[2].partition(":")
from plutono_plugin import Plugin
module = importlib.import_module(module_name)
if not hasattr(module, attribute):
    sys.stderr.write("NOT-FOUND module %r has no attribute %r\\n" % (module_name, attribute))
    sys.exit(3)
value = getattr(module, attribute)
if not isinstance(value, Plugin):
    sys.stderr.write("NOT-PLUGIN %s is a %s, not a Plugin\\n" % (sys.argv[2], type(value).__name__))
    sys.exit(3)
"""


def load_json(path: Path) -> object:
    """The JSON value in ``path``; :class:`ConfigurationError` names what is wrong with it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path} does not exist") from None
    except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError included
        raise ConfigurationError(f"{path} is not valid JSON: {error}") from None
    except RecursionError:
        raise ConfigurationError(f"{path} is nested too deeply to be a plugin.json") from None


def check_names(path: Path, manifest: dict[str, Any], *, version: bool = False) -> None:
    """Refuse an ``id``, ``executable`` or ``info.version`` that is not a safe name.

    They become file names (``<executable>_linux_amd64``, ``<id>-<version>.zip``) and part of
    the launcher script: a ``/``, ``..`` or newline would write outside ``--out`` or inject a
    shell line run at every start. ``version`` makes ``info.version`` required.
    """
    info = manifest.get("info")
    values = {
        "id": manifest.get("id"),
        "executable": manifest.get("executable"),
        "info.version": info.get("version") if isinstance(info, dict) else None,
    }
    for field, value in values.items():
        if field == "info.version" and value is None and not version:
            continue
        if value is None or value == "":
            if field == "info.version":
                raise ConfigurationError(
                    f"{path}: info.version must be set; Plutono compares it with the "
                    "signature and the archive is named after it"
                )
            raise ConfigurationError(f"{path}: {field!r} must be a non-empty string")
        if not isinstance(value, str) or not _SAFE[field].fullmatch(value) or ".." in value:
            extra = ", '+'" if field == "info.version" else ""
            raise ConfigurationError(
                f"{path}: {field} {value!r} is not a safe name: use letters, digits, '.', "
                f"'_', '-'{extra}, starting with a letter or digit, without '..', '/', spaces "
                "or control characters"
            )


# Runs isolated (-I -S: no site-packages, no cwd) on the assembled directory, as boot.py does.
_SHIPPED_CHECK = """
import importlib, sys
code, lib, tree, entry = sys.argv[1:5]
pure = lib + "/deps/pure-py" + tree.rsplit("-py", 1)[1]
sys.path[:0] = [code, lib + "/framework", lib + "/deps/" + tree, pure]
try:
    importlib.import_module(entry.partition(":")[0])
except ModuleNotFoundError as error:
    sys.stderr.write("MISSING %s\\n" % (error.name or "?"))
    sys.exit(3)
"""


def read_build_manifest(source: Path) -> dict[str, Any]:
    """``source/plugin.json``, checked for what a backend plugin must declare."""
    path = source / "plugin.json"
    if path.is_symlink():
        raise ConfigurationError(f"{path} is a symbolic link; put the file itself in {source}")
    manifest = load_json(path)
    if not isinstance(manifest, dict):
        raise ConfigurationError(f"{path} must hold a JSON object")
    for key in _REQUIRED:
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise ConfigurationError(f"{path}: {key!r} must be a non-empty string")
    if manifest["type"] not in ("datasource", "app"):
        raise ConfigurationError(
            f"{path}: type {manifest['type']!r} cannot have a backend; "
            "use datasource or app (contract 2.1)"
        )
    if manifest.get("backend") is not True:
        raise ConfigurationError(f'{path}: set "backend": true')
    check_names(path, manifest)
    return manifest


def plugin_sources(source: Path, entry: str) -> list[tuple[PurePosixPath, Path]]:
    """The plugin's files: everything in ``source`` that no exclude pattern matches.

    ``(relative name, real path)`` pairs (:func:`~plutono_plugin._build.files.tree_files`):
    modules, packages and the data files beside them, without what :data:`EXCLUDES` and the
    source's ``.pluginignore`` leave out. Every ``.py`` must compile. Raises
    :class:`ConfigurationError` naming the file and line that does not compile, a symbolic
    link that leaves the source, or an entry module that is not among the files.
    """
    module_name, _, attribute = entry.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"entry {entry!r} must be module:attribute")
    files = tree_files(source, sorted(os.listdir(source)), ignore=read_excludes(source))
    top = module_name.split(".")[0]
    names = {relative.as_posix() for relative, _real in files}
    if f"{top}.py" not in names and f"{top}/__init__.py" not in names:
        raise ConfigurationError(
            f"entry module {module_name!r} is not in {source} (no {top}.py or {top}/__init__.py"
            f", or {IGNORE_FILE} excludes it)"
        )
    for relative, real in files:
        if relative.suffix != ".py":
            continue
        try:
            compile(real.read_bytes(), str(source / relative), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            where = f"{source / relative}:{getattr(error, 'lineno', None) or '?'}"
            raise ConfigurationError(
                f"{where} does not compile: {error} (if the plugin does not need that file, "
                f"exclude it in {source / IGNORE_FILE})"
            ) from None
    return files


IMPORT_TIMEOUT = 120.0
"""Seconds a plugin's import may take in a build check."""


def _child_import(arguments: list[str], cwd: Path, entry: str) -> str | None:
    """Run ``python arguments`` in ``cwd``: ``None`` when it succeeds, else its last stderr line."""
    environment = {k: v for k, v in os.environ.items() if k != "grafana_plugin_type"}
    try:
        result = subprocess.run(
            [sys.executable, *arguments],
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigurationError(
            f"entry {entry} did not finish importing within {IMPORT_TIMEOUT:g} s: a plugin's "
            "import must not wait for the network or a device; move that work into the "
            "plugin's lifespan or an instance factory"
        ) from None
    if result.returncode == 0:
        return None
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {result.returncode}"


def check_entry(source: Path, entry: str) -> None:
    """Import ``entry`` from ``source`` in a child interpreter; it must be a ``Plugin``."""
    last = _child_import(["-c", _IMPORT_CHECK, str(source), entry], source, entry)
    if last is None:
        return
    if last.startswith(("NOT-FOUND ", "NOT-PLUGIN ")):
        raise ConfigurationError(f"entry {entry}: {last.split(' ', 1)[1]}")
    raise ConfigurationError(f"entry {entry} does not import: {last}")


def check_shipped_import(lib: Path, tree: str, entry: str, source: Path) -> None:
    """Import ``entry`` the way the shipped plugin will: from ``lib`` and ``lib/deps/<tree>``.

    :func:`check_entry` imports in the build environment, which has every development
    dependency; this catches a requirement missing from ``requirements.txt`` (issue 18).
    The plugin's code is imported from a scratch copy, so that whatever its import writes
    beside itself stays out of the build (``doctor`` reports a plugin that does that).
    """
    with tempfile.TemporaryDirectory(prefix="plutono-import-check-") as scratch:
        code = Path(scratch) / "plugin"
        shutil.copytree(lib / "plugin", code)
        arguments = ["-I", "-S", "-B", "-c", _SHIPPED_CHECK, str(code), str(lib), tree, entry]
        last = _child_import(arguments, Path(scratch), entry)
    if last is None:
        return
    if not last.startswith("MISSING "):
        raise ConfigurationError(
            f"entry {entry} does not import with the shipped dependencies ({tree}): {last}"
        )
    module = last.split(" ", 1)[1].split(".")[0]
    import importlib.metadata

    providers = importlib.metadata.packages_distributions().get(module, [])
    what = " or ".join(sorted(set(providers))) or f"the distribution that provides {module!r}"
    raise ConfigurationError(
        f"entry {entry} imports {module!r}, which the shipped dependencies ({tree}) lack: it "
        f"is installed here but not required; fix: add {what} to {source / 'requirements.txt'}"
    )
