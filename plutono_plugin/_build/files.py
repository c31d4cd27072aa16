"""List and copy a plugin's files without ever leaving its directory (issue 17).

``build`` and ``package`` read files through :func:`tree_files` only. A symbolic link is
followed when its target stays inside the root (the source directory, or the built plugin
directory): its content is copied as a regular file, since a zip cannot carry a link
portably. A link whose target leaves the root — ``README.md`` → ``/etc/shadow``, ``img/`` →
a home directory — is refused with :class:`ConfigurationError` naming the link and its
target, rather than skipped with a warning: a build that silently drops a file the author
linked on purpose ships something else than what was tested. Broken links, link loops and
special files (FIFOs, sockets, devices) are refused the same way.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import shutil
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from ..errors import ConfigurationError

__all__ = ("JUNK", "copy_files", "tree_files")

JUNK = ("__pycache__", "*.pyc", ".*")
"""Names never copied: bytecode (compiled at build time for each target) and dot-files."""


def _ignored(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _resolve(path: Path, root: Path, shown: PurePosixPath) -> Path:
    """Where ``path`` (a symbolic link) leads, when that is inside ``root``."""
    target = os.readlink(path)
    try:
        real = Path(os.path.realpath(path, strict=True))
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ConfigurationError(
                f"{shown} is a symbolic link loop (-> {target}); remove or fix the link"
            ) from None
        raise ConfigurationError(
            f"{shown} is a broken symbolic link (-> {target}); remove or fix the link"
        ) from None
    if not _inside(real, root):
        raise ConfigurationError(
            f"{shown} is a symbolic link to {real}, outside {root}: nothing outside the "
            "plugin's directory is copied; copy the file into it, or remove the link"
        )
    return real


def tree_files(
    root: Path, names: Iterable[str], *, ignore: Sequence[str] = JUNK
) -> list[tuple[PurePosixPath, Path]]:
    """``(relative name, real path)`` of every regular file under ``root/name`` for ``names``.

    ``root`` must be resolved. Names that do not exist are left out; directories are walked
    in sorted order; ``ignore`` holds :mod:`fnmatch` patterns matched against each entry's
    own name (the link's name, not its target's).
    """
    found: list[tuple[PurePosixPath, Path]] = []
    for name in names:
        path = root / name
        if os.path.lexists(path):
            _visit(root, path, PurePosixPath(name), (), ignore, found)
    return found


def _visit(
    root: Path,
    path: Path,
    shown: PurePosixPath,
    ancestors: tuple[Path, ...],
    ignore: Sequence[str],
    found: list[tuple[PurePosixPath, Path]],
) -> None:
    real = _resolve(path, root, shown) if path.is_symlink() else path
    mode = real.stat().st_mode
    if stat.S_ISREG(mode):
        found.append((shown, real))
        return
    if not stat.S_ISDIR(mode):
        raise ConfigurationError(
            f"{shown} is not a regular file or directory (a FIFO, socket or device); remove it"
        )
    real_dir = Path(os.path.realpath(real))
    if real_dir in ancestors:
        raise ConfigurationError(
            f"{shown} is a symbolic link loop: it leads back to a folder that contains it; "
            "remove or fix the link"
        )
    for entry in sorted(os.listdir(real)):
        if not _ignored(entry, ignore):
            _visit(root, real / entry, shown / entry, (*ancestors, real_dir), ignore, found)


def copy_files(files: Iterable[tuple[PurePosixPath, Path]], destination: Path) -> None:
    """Copy what :func:`tree_files` listed under ``destination`` (contents, not links)."""
    for relative, real in files:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real, target)
