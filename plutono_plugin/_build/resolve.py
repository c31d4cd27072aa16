"""Runtime dependencies for one target, from wheels only, installed once and cached.

pip resolves for another platform with ``--platform``/``--python-version``/``--abi`` and
``--only-binary=:all:`` (a target cannot run a source build), installs into a fresh directory
(``--target``), and the tree is compiled to bytecode for the target's Python, then moved into
the cache under a key of everything that decides its content. A build links the cached tree
into the plugin directory (hard links: instant, no extra disk), so repeated builds and CI
touch the network only when a requirement changes.

What is pinned: every distribution the build environment has installed, at the version
installed there (``pip -c``), so the plugin ships what it was tested with. A plugin's own
``requirements.txt`` lines are passed as given; one with a version specifier
(``numpy>=2,<3``) is not pinned, a bare name (``numpy``) is.

pip evaluates environment markers (``; sys_platform == "win32"``) for the build machine, not
for the target; the framework's own requirements carry none.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from collections.abc import Collection
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import ConfigurationError
from .boot import deps_name
from .targets import Variant

__all__ = (
    "Requirements",
    "cache_directory",
    "compile_tree",
    "dependency_tree",
    "link_tree",
    "python_for",
)

_FORMAT = "1"  # bump when the layout of a cached tree changes
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class Requirements:
    """What a plugin needs at run time: the framework's requirements plus its own.

    ``plugin_file`` is the plugin's ``requirements.txt`` (optional); ``constraints`` the
    ``name==version`` pins of the build environment.
    """

    def __init__(self, plugin_file: Path | None, extras: Collection[str] = ()) -> None:
        self.plugin = _read_requirements(plugin_file) if plugin_file else []
        # Frames need no Arrow library, but pandas and polars data go through pyarrow: a
        # plugin that requires them gets the framework extra of the same name (with pyarrow).
        named = {_normal(match.group(1)) for line in self.plugin if (match := _NAME.match(line))}
        extras = {*extras, *(named & {"pandas", "polars"})}
        framework = []
        for item in importlib.metadata.requires("plutono-plugin") or []:
            requirement, _, marker = item.partition(";")
            extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
            if extra is None:
                framework.append(item)
            elif extra.group(1) in extras:  # e.g. a --dev build's reload and debug extras
                framework.append(requirement.strip())
        self.framework = sorted(framework)
        # A requirement with its own version specifier decides that version; a bare name
        # gets the build environment's version like everything else.
        own = {
            _normal(match.group(1))
            for line in self.plugin
            if (match := _NAME.match(line)) and any(mark in line for mark in "<>=!~@")
        }
        own.add("plutono-plugin")
        pins = {
            _normal(dist.metadata["Name"]): dist.version
            for dist in importlib.metadata.distributions()
            if dist.metadata["Name"]
        }
        self.constraints = sorted(
            f"{name}=={version}" for name, version in pins.items() if name not in own
        )

    def key(self, variant: Variant, version: str) -> str:
        """Cache key of the tree for ``variant`` and Python ``version``."""
        material = json.dumps(
            [
                _FORMAT,
                variant.name,
                version,
                variant.wheel_platforms(),
                self.framework,
                self.plugin,
                self.constraints,
            ]
        )
        return hashlib.sha256(material.encode()).hexdigest()[:20]


def _read_requirements(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise ConfigurationError(
                f"{path}: {line!r}: only requirement specifiers are supported "
                "(a shipped plugin installs wheels from the index, no options or editables)"
            )
        lines.append(line)
    return lines


def cache_directory() -> Path:
    """``$PLUTONO_PLUGIN_CACHE``, else ``$XDG_CACHE_HOME/plutono-plugin`` or ``~/.cache/…``."""
    configured = os.environ.get("PLUTONO_PLUGIN_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "plutono-plugin"


def python_for(version: str) -> str:
    """An interpreter of Python ``version`` on this machine, to compile bytecode with.

    Bytecode is specific to a minor version: building for a Python other than the build
    interpreter's needs ``python<version>`` on ``PATH``.
    """
    if version == "{}.{}".format(*sys.version_info[:2]):
        return sys.executable
    found = shutil.which(f"python{version}")
    if found is not None:
        probe = subprocess.run(
            [found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return found
    raise ConfigurationError(
        f"building for Python {version} needs a python{version} interpreter on PATH "
        "(bytecode is compiled at build time for each target Python version)"
    )


def compile_tree(root: Path, version: str, *, strip: Path) -> None:
    """Write ``__pycache__`` bytecode for every ``.py`` under ``root`` for Python ``version``.

    ``unchecked-hash`` pycs are used whatever the source's modification time, so a copied or
    unzipped directory starts as fast as the original; ``strip`` keeps build paths out of them.
    """
    command = [python_for(version), "-I", "-m", "compileall", "-qq", "-j", "0"]
    command += ["--invalidation-mode", "unchecked-hash", "-s", str(strip), str(root)]
    # Failures are ignored here: some wheels ship deliberately invalid files (test data); the
    # plugin's own code is checked, with a message, before anything is built.
    subprocess.run(command, capture_output=True, timeout=900, check=False)


def link_tree(source: Path, destination: Path) -> None:
    """Recreate ``source`` under ``destination`` with hard links (copies across devices)."""
    for folder, directories, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        (destination / relative).mkdir(parents=True, exist_ok=True)
        for name in files:
            origin = Path(folder) / name
            target = destination / relative / name
            try:
                os.link(origin, target)
            except OSError:
                shutil.copy2(origin, target)
        directories.sort()


def dependency_tree(
    requirements: Requirements,
    variant: Variant,
    version: str,
    *,
    refresh: bool = False,
) -> Path:
    """The cached, compiled tree for ``variant`` and Python ``version`` (built if absent)."""
    cache = cache_directory() / "deps"
    stem = deps_name(variant.name, _version_tuple(version))
    final = cache / f"{stem}-{requirements.key(variant, version)}"
    if final.is_dir() and not refresh:
        return final
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache))
    tree = scratch / "tree"
    try:
        _pip_install(requirements, variant, version, tree, scratch)
        # Console scripts carry this machine's interpreter in their #! line; nothing runs them.
        shutil.rmtree(tree / "bin", ignore_errors=True)
        compile_tree(tree, version, strip=tree)
        if final.exists():
            shutil.rmtree(final)
        tree.rename(final)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def _pip_install(
    requirements: Requirements, variant: Variant, version: str, tree: Path, scratch: Path
) -> None:
    constraints = scratch / "constraints.txt"
    constraints.write_text("\n".join(requirements.constraints) + "\n", encoding="utf-8")
    plugin = scratch / "requirements.txt"
    plugin.write_text("\n".join(requirements.plugin) + "\n", encoding="utf-8")
    abi = "cp" + version.replace(".", "")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--no-input", "--no-compile", "--target", str(tree), "--only-binary=:all:"]
    command += ["--implementation", "cp", "--python-version", version]
    command += ["--abi", abi, "--abi", "abi3", "--abi", "none"]
    for platform in variant.wheel_platforms():
        command += ["--platform", platform]
    command += ["-c", str(constraints), "-r", str(plugin), *requirements.framework]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    if result.returncode != 0:
        detail = " ".join(
            line.strip() for line in result.stderr.strip().splitlines()[-6:] if line.strip()
        )
        raise ConfigurationError(
            f"cannot serve {variant.platform} ({variant.libc or 'macOS'}) with Python {version} "
            f"from wheels: {detail}. Every dependency needs a wheel for each target; build "
            "without that --platform, or choose versions that publish one"
        )
