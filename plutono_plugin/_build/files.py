"""List and copy a plugin's files without ever leaving its directory (issue 17).

``build`` and ``package`` read files through :func:`tree_files` only. A symbolic link is
followed when its target stays inside the root (the source directory, or the built plugin
directory): its content is copied as a regular file, since a zip cannot carry a link
portably. A link whose target leaves the root — ``README.md`` → ``/etc/shadow``, ``img/`` →
a home directory — is refused with :class:`ConfigurationError` naming the link and its
target, rather than skipped with a warning: a build that silently drops a file the author
linked on purpose ships something else than what was tested. Broken links, link loops and
special files (FIFOs, sockets, devices) are refused the same way.

Which files of the source are the plugin's (issue 18): everything that no exclude pattern
matches, the defaults in :data:`EXCLUDES` and then the lines of the source's
``.pluginignore``. A pattern is :mod:`fnmatch`-style; without a ``/`` it matches an entry's
name at any depth, with one it matches the path from the source (a leading ``/`` is
ignored); a trailing ``/`` matches folders only; ``!`` in front re-includes what an earlier
pattern excluded. The last matching pattern decides, as in ``.gitignore``.
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

__all__ = ("EXCLUDES", "IGNORE_FILE", "JUNK", "copy_files", "read_excludes", "tree_files")

JUNK = ("__pycache__/", "*.pyc", ".*")
"""Never copied: bytecode (compiled at build time for each target) and dot-files."""

EXCLUDES = (
    *JUNK,
    # beside plugin.json instead (STATIC_FILES of the build), or build inputs
    "/plugin.json",
    "/module.js",
    "/module.js.map",
    "/img/",
    "/README.md",
    "/CHANGELOG.md",
    "/LICENSE",
    "/requirements.txt",
    "/pyproject.toml",
    # development only
    "tests/",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "/build/",
    "/dist/",
    "node_modules/",
    "venv/",
    "*.egg-info/",
)
"""What a build leaves out of ``lib/plugin`` unless ``.pluginignore`` re-includes it (``!``)."""

IGNORE_FILE = ".pluginignore"
"""The source's own exclude patterns, one a line; ``#`` starts a comment line."""


def read_excludes(source: Path) -> tuple[str, ...]:
    """:data:`EXCLUDES` followed by the patterns of ``source/.pluginignore`` (if any)."""
    path = source / IGNORE_FILE
    if not path.is_file():
        return EXCLUDES
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{path} cannot be read: {error}") from None
    lines = (line.strip() for line in text.splitlines())
    return (*EXCLUDES, *(line for line in lines if line and not line.startswith("#")))


def _ignored(relative: PurePosixPath, is_dir: bool, patterns: Sequence[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        if body.endswith("/"):
            if not is_dir:
                continue
            body = body.rstrip("/")
        if "/" in body:
            hit = fnmatch.fnmatchcase(relative.as_posix(), body.lstrip("/"))
        else:
            hit = fnmatch.fnmatchcase(relative.name, body)
        if hit:
            ignored = not negate
    return ignored


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
    in sorted order; ``ignore`` holds exclude patterns (module docstring), matched against
    each entry's relative path and name (the link's, not its target's) before a link is
    followed: an excluded link is never looked at.
    """
    found: list[tuple[PurePosixPath, Path]] = []
    for name in names:
        path = root / name
        shown = PurePosixPath(name)
        if os.path.lexists(path) and not _ignored(shown, os.path.isdir(path), ignore):
            _visit(root, path, shown, (), ignore, found)
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
        path = real / entry
        if not _ignored(shown / entry, os.path.isdir(path), ignore):
            _visit(root, path, shown / entry, (*ancestors, real_dir), ignore, found)


def copy_files(files: Iterable[tuple[PurePosixPath, Path]], destination: Path) -> None:
    """Copy what :func:`tree_files` listed under ``destination`` (contents, not links)."""
    for relative, real in files:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real, target)
