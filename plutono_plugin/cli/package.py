"""Zip a built plugin directory the way Plutono's plugin install expects: ``<id>/…`` inside.

One archive per platform, ``<id>-<version>.<platform>.zip``, holding that platform's launcher
and dependency trees only, and one with everything, ``<id>-<version>.zip``. Unix modes are
kept (the launchers stay executable after ``unzip``); entries are sorted and carry a fixed
date, so the same build zips to the same bytes. Files are streamed into the zip (memory stays
flat whatever their size), and nothing outside the directory is read: a symbolic link that
leaves it is refused (:mod:`plutono_plugin._build.files`). A ``--dev`` build runs the source
tree of the machine it was built on and may wait for a debugger without authentication: it is
refused unless ``allow_dev`` says otherwise.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import zipfile
from pathlib import Path, PurePosixPath

from .._build.boot import variant_name
from .._build.check import check_names, load_json
from .._build.files import tree_files
from ..errors import ConfigurationError

__all__ = ("package_plugin",)


_CHUNK = 1 << 20  # bytes read at a time while zipping


def _manifest(directory: Path) -> tuple[str, str, str]:
    path = directory / "plugin.json"
    manifest = load_json(path)
    if not isinstance(manifest, dict):
        raise ConfigurationError(f"{path} must hold a JSON object")
    # Each becomes part of a file name written under --out (issue 17).
    check_names(path, manifest, version=True)
    return manifest["id"], manifest["info"]["version"], manifest["executable"]


def _refuse_dev_build(directory: Path) -> None:
    config = directory / "lib" / "build.json"
    if not config.is_file():
        return  # a --standalone build has none
    settings = load_json(config)
    if isinstance(settings, dict) and settings.get("dev_source"):
        raise ConfigurationError(
            f"{directory} is a --dev build: it runs the source tree {settings['dev_source']} "
            "of the machine it was built on, and its debugger, when enabled, listens without "
            "authentication. Build without --dev to ship it, or pass --allow-dev to zip it "
            "anyway"
        )


def _platform_of(relative: PurePosixPath, executable: str, platforms: set[str]) -> str | None:
    """The platform a file belongs to, or ``None`` when every platform needs it."""
    parts = relative.parts
    if len(parts) == 1:
        for platform in platforms:
            if parts[0] == f"{executable}_{platform}":
                return platform
        return None
    if parts[:2] == ("lib", "deps") and len(parts) > 2:
        for platform in platforms:
            goos, goarch = platform.split("_")
            stems = {variant_name(goos, goarch, libc) for libc in ("glibc", "musl")}
            if parts[2].rsplit("-py", 1)[0] in stems:
                return platform
    return None


def _write(
    archive: Path, prefix: str, files: list[PurePosixPath], real: dict[PurePosixPath, Path]
) -> None:
    moment = (1980, 1, 1, 0, 0, 0)
    # Level 1: shared libraries dominate and barely shrink further at higher levels.
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bundle:
        for relative in files:
            path = real[relative]
            with path.open("rb") as source:
                status = os.fstat(source.fileno())
                info = zipfile.ZipInfo(f"{prefix}/{relative.as_posix()}", date_time=moment)
                info.external_attr = (stat.S_IFREG | stat.S_IMODE(status.st_mode)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                if sys.version_info >= (3, 13):
                    info.compress_level = 1
                else:  # what writestr(compresslevel=) sets before 3.13
                    info._compresslevel = 1  # type: ignore[attr-defined]
                # The size known up front lets zipfile pick zip64 for files over 2 GiB.
                info.file_size = status.st_size
                with bundle.open(info, "w") as entry:
                    shutil.copyfileobj(source, entry, _CHUNK)


def package_plugin(directory: Path, output: Path, *, allow_dev: bool = False) -> list[Path]:
    """Write the per-platform zips and the all-platform zip of ``directory`` into ``output``.

    ``allow_dev`` zips a ``--dev`` build too (refused otherwise: it cannot run elsewhere).

    Example::

        package_plugin(Path("build/plugins/quickstart"), Path("dist"))
        # dist/plutono-quickstart-datasource-0.1.0.linux_amd64.zip, ….zip
    """
    directory = directory.resolve()
    plugin_id, version, executable = _manifest(directory)
    if not allow_dev:
        _refuse_dev_build(directory)
    target = output.resolve()
    if target == directory or directory in target.parents:
        raise ConfigurationError(
            f"--out {output} is inside the plugin directory {directory}; the zips would be "
            "zipped again next time: choose a folder outside it"
        )
    real = dict(tree_files(directory, sorted(os.listdir(directory)), ignore=()))
    files = sorted(real)
    platforms = {
        path.name.removeprefix(f"{executable}_")
        for path in files
        if len(path.parts) == 1 and path.name.startswith(f"{executable}_")
    }
    if not platforms:
        raise ConfigurationError(f"{directory} has no {executable}_<os>_<arch> launcher")
    output.mkdir(parents=True, exist_ok=True)
    archives = []
    owner = {path: _platform_of(path, executable, platforms) for path in files}
    everything = output / f"{plugin_id}-{version}.zip"
    _write(everything, plugin_id, files, real)
    for platform in sorted(platforms):
        archive = output / f"{plugin_id}-{version}.{platform}.zip"
        chosen = [path for path in files if owner[path] in (None, platform)]
        if chosen == files:
            shutil.copyfile(everything, archive)
        else:
            _write(archive, plugin_id, chosen, real)
        archives.append(archive)
    archives.append(everything)
    return archives
