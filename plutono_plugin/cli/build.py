"""Assemble a self-contained, relocatable Plutono plugin directory.

The directory holds everything but an interpreter (``--standalone`` bundles that too)::

    plugin.json  module.js  img/  README.md  CHANGELOG.md  LICENSE   (when present)
    gpx_name_linux_amd64  gpx_name_linux_arm64  gpx_name_darwin_…     (launchers, contract 2.1)
    lib/boot.py           selects the dependency tree, checks, serves (see _build/boot.py)
    lib/build.json        entry, interpreter, Python versions
    lib/plugin/           the plugin's files: code and data, minus excludes (_build/files.py)
    lib/framework/        plutono_plugin
    lib/deps/linux-amd64-glibc-py3.11/  linux-amd64-musl-py3.11/  darwin-arm64-py3.11/  …
    lib/deps/pure-py3.11/  the pure-Python dependencies every tree shares (_build/pure.py)

Every ``.py`` has bytecode compiled at build time for each target Python (hash-based, so it
survives copies and unzips); nothing is written into the directory at run time. Nothing
outside the source is read either: ``--out`` may not be, hold or lie inside the source, and a
symbolic link leaving the source fails the build (issue 17).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .._build.boot import deps_name, this_variant, variant_name
from .._build.check import (
    check_entry,
    check_shipped_import,
    plugin_sources,
    read_build_manifest,
)
from .._build.files import copy_files, tree_files
from .._build.launcher import launcher_script
from .._build.pure import share_pure_python
from .._build.resolve import (
    Requirements,
    compile_tree,
    dependency_tree,
    link_tree,
    python_for,
)
from .._build.targets import PLATFORMS, parse_platforms, variants
from ..errors import ConfigurationError
from ..frontend import write_frontend

__all__ = ("PLATFORMS", "STATIC_FILES", "BuildResult", "build_plugin_dir")

STATIC_FILES = ("module.js", "module.js.map", "img", "README.md", "CHANGELOG.md", "LICENSE")
"""Files of the plugin's source copied beside ``plugin.json`` when present."""

_FRAMEWORK = Path(__file__).resolve().parent.parent
_JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What was written: the directory, the plugin's id, the launchers and dependency trees."""

    directory: Path
    plugin_id: str
    launchers: tuple[Path, ...]
    dependencies: tuple[str, ...] = ()


def build_plugin_dir(
    source: Path,
    output: Path,
    *,
    entry: str = "plugin:plugin",
    platforms: Sequence[str] = (),
    python_versions: Sequence[str] = (),
    python: str = "python3",
    standalone: bool = False,
    refresh: bool = False,
    dev: bool = False,
    log: Callable[[str], None] | None = None,
) -> BuildResult:
    """Check ``source`` and write the plugin directory ``output`` (replacing an older build).

    ``entry`` is ``module:attribute`` of the :class:`~plutono_plugin.Plugin` in ``source``;
    ``platforms`` default to all of :data:`PLATFORMS`; ``python_versions`` (``"3.11"``) to
    this interpreter's; ``python`` is what the launchers run unless ``PL_PLUGIN_PYTHON`` says
    otherwise. ``standalone`` bundles an interpreter for this machine's platform instead.
    ``refresh`` resolves the dependencies again instead of reusing the cache. ``dev`` makes a
    development build: it runs the plugin's code from ``source`` itself and restarts when it
    changes (hot reload, docs/development.md), so it is tied to this machine; never ship one.

    Example::

        build_plugin_dir(Path("examples/quickstart"), Path("build/plugins/quickstart"),
                         platforms=["linux_amd64"])
    """
    say = log or (lambda _text: None)
    source = source.resolve()
    _check_places(source, output)
    manifest = read_build_manifest(source)
    code = plugin_sources(source, entry)
    static = tree_files(source, STATIC_FILES)  # links leaving the source fail here, early
    check_entry(source, entry)
    requirements_file = source / "requirements.txt"
    requirements = Requirements(
        requirements_file if requirements_file.is_file() else None,
        # a development build watches its source and can wait for a debugger (issue 13)
        extras=("reload", "debug") if dev else (),
    )
    if standalone and dev:
        raise ConfigurationError("--dev runs the source tree; it cannot be --standalone")
    if standalone:
        from .._build.standalone import build_standalone
        from .._build.targets import host_platform

        if set(platforms) - {host_platform()} or python_versions:
            raise ConfigurationError(
                f"--standalone bundles this machine's interpreter: it builds for "
                f"{host_platform()} only, without --python-version"
            )

        def assemble_standalone(folder: Path) -> tuple[list[Path], list[str]]:
            return build_standalone(source, folder, manifest, entry, code, requirements, say)

        return _replace(output, manifest, source, entry, static, assemble_standalone)
    chosen = parse_platforms(tuple(platforms))
    versions = tuple(dict.fromkeys(python_versions or ["{}.{}".format(*sys.version_info[:2])]))
    for version in versions:
        if not re.fullmatch(r"3\.\d+", version):
            raise ConfigurationError(f"--python-version {version!r}: expected 3.<minor>")
        python_for(version)  # bytecode needs that interpreter: say so before resolving
    trees: dict[str, Path] = {}
    for version in versions:
        for variant in variants(chosen):
            say(f"dependencies for {variant.name}, Python {version}")
            tree = dependency_tree(requirements, variant, version, refresh=refresh)
            major, minor = version.split(".")
            trees[deps_name(variant.name, (int(major), int(minor)))] = tree

    def assemble(folder: Path) -> tuple[list[Path], list[str]]:
        lib = folder / "lib"
        (lib / "plugin").mkdir(parents=True)
        copy_files(code, lib / "plugin")
        shutil.copytree(_FRAMEWORK, lib / "framework" / "plutono_plugin", ignore=_JUNK)
        shutil.copyfile(_FRAMEWORK / "_build" / "boot.py", lib / "boot.py")
        config = {
            "plugin_id": manifest["id"],
            "entry": entry,
            "python": python,
            "python_versions": list(versions),
        }
        if dev:
            # boot.py puts the source first on sys.path and turns hot reload on
            # (plutono_plugin/_runtime/reload.py); an ini value of dev_reload wins.
            config["dev_source"] = str(source)
        (lib / "build.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        for version in versions:
            compile_tree(lib / "plugin", version, strip=folder)
            compile_tree(lib / "framework", version, strip=folder)
        for name, tree in trees.items():
            link_tree(tree, lib / "deps" / name)
        share_pure_python(lib / "deps", sorted(trees))  # once per directory, not per tree
        here = deps_name(variant_name(*this_variant()), sys.version_info[:2])
        if here in trees:
            check_shipped_import(lib, here, entry, source)
        else:
            say(f"not built for this machine ({here}): the shipped import is not checked")
        script = launcher_script(manifest["id"], python)
        launchers = []
        for platform in chosen:
            launcher = folder / f"{manifest['executable']}_{platform}"
            launcher.write_text(script, encoding="utf-8")
            launcher.chmod(0o755)
            launchers.append(launcher)
        return launchers, sorted(trees)

    return _replace(output, manifest, source, entry, static, assemble)


def _check_places(source: Path, output: Path) -> None:
    """Refuse an ``--out`` that is, holds or lies inside the source (issue 17).

    The build replaces ``--out`` as a whole: the source inside it would be deleted, and an
    output inside the source would be copied into the next build (and restart a ``--dev``
    build's watcher on every build).
    """
    if output.is_symlink():
        raise ConfigurationError(
            f"--out {output} is a symbolic link; name the directory it points to instead"
        )
    target = output.resolve()
    if target == source:
        raise ConfigurationError(
            f"--out {output} is the source directory; the build replaces --out as a whole "
            "and would delete the source: choose a directory outside it, e.g. build/<name>"
        )
    if source in target.parents:
        raise ConfigurationError(
            f"--out {output} is inside the source directory {source}; choose a directory "
            "outside it (the next build would copy this one)"
        )
    if target in source.parents:
        raise ConfigurationError(
            f"the source {source} is inside --out {output}, which the build replaces as a "
            "whole; choose an --out that does not contain the source"
        )


def _replace(
    output: Path,
    manifest: dict[str, Any],
    source: Path,
    entry: str,
    static: list[tuple[PurePosixPath, Path]],
    assemble: Callable[[Path], tuple[list[Path], list[str]]],
) -> BuildResult:
    """Build into a scratch directory beside ``output``, then swap it in."""
    output = output.absolute()
    if output.exists() and any(output.iterdir()) and not (output / "plugin.json").is_file():
        raise ConfigurationError(
            f"{output} exists and is not a plugin directory; choose another --out"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    try:
        shutil.copyfile(source / "plugin.json", scratch / "plugin.json")
        copy_files(static, scratch)
        # The generated frontend (issue 10): module.js unless the source ships one, a logo.
        write_frontend(source, scratch, manifest, entry=entry, python=sys.executable)
        launchers, trees = assemble(scratch)
        scratch.chmod(0o755)  # mkdtemp makes it private; Plutono's service user must read it
        if output.exists():
            shutil.rmtree(output)
        scratch.rename(output)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return BuildResult(
        output,
        str(manifest["id"]),
        tuple(output / launcher.name for launcher in launchers),
        tuple(trees),
    )
