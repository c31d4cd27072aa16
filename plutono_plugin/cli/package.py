"""Zip a built plugin directory the way Plutono's plugin install expects: ``<id>/…`` inside.

One archive per platform, ``<id>-<version>.<platform>.zip``, holding that platform's launcher
and dependency trees only, and one with everything, ``<id>-<version>.zip``. Unix modes are
kept (the launchers stay executable after ``unzip``); entries are sorted and dated from
``plugin.json`` so the same build zips to the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

from .._build.boot import variant_name
from ..errors import ConfigurationError

__all__ = ("package_plugin",)


def _manifest(directory: Path) -> tuple[str, str, str]:
    path = directory / "plugin.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"{path}: {error}") from None
    version = (manifest.get("info") or {}).get("version")
    if not isinstance(version, str) or not version:
        raise ConfigurationError(
            f"{path}: info.version must be set; Plutono compares it with the signature and "
            "the archive is named after it"
        )
    return manifest["id"], version, manifest["executable"]


def _platform_of(relative: Path, executable: str, platforms: set[str]) -> str | None:
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


def _write(archive: Path, directory: Path, prefix: str, files: list[Path]) -> None:
    moment = (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(archive, "w") as bundle:
        for relative in files:
            path = directory / relative
            info = zipfile.ZipInfo(f"{prefix}/{relative.as_posix()}", date_time=moment)
            info.external_attr = (stat.S_IFREG | stat.S_IMODE(path.stat().st_mode)) << 16
            # Level 1: shared libraries dominate and barely shrink further at higher levels.
            bundle.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED, compresslevel=1)


def package_plugin(directory: Path, output: Path) -> list[Path]:
    """Write the per-platform zips and the all-platform zip of ``directory`` into ``output``.

    Example::

        package_plugin(Path("build/plugins/quickstart"), Path("dist"))
        # dist/plutono-quickstart-datasource-0.1.0.linux_amd64.zip, ….zip
    """
    plugin_id, version, executable = _manifest(directory)
    files = sorted(
        Path(folder, name).relative_to(directory)
        for folder, _dirs, names in os.walk(directory)
        for name in names
    )
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
    _write(everything, directory, plugin_id, files)
    for platform in sorted(platforms):
        archive = output / f"{plugin_id}-{version}.{platform}.zip"
        chosen = [path for path in files if owner[path] in (None, platform)]
        if chosen == files:
            shutil.copyfile(everything, archive)
        else:
            _write(archive, directory, plugin_id, chosen)
        archives.append(archive)
    archives.append(everything)
    return archives
