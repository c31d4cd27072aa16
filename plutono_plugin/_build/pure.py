"""Pure-Python dependencies stored once per plugin directory, not once per target tree.

A plugin directory has one dependency tree per target (``lib/deps/linux-amd64-glibc-py3.11``,
…); most of what they hold is the same pure-Python code six times. After the trees are linked
in, every top-level entry (a package, a module with its bytecode, a ``.dist-info``) that is
byte-identical in all trees of one Python version and holds no compiled file moves to
``lib/deps/pure-pyX.Y``; ``boot.py`` puts that directory on ``sys.path`` right after the
chosen tree. Only compiled distributions (and whatever differs) stay per target. The bytecode
is identical across trees because it is compiled with the build paths stripped.

Example::

    moved = share_pure_python(lib / "deps", ["linux-amd64-glibc-py3.11", "darwin-arm64-py3.11"])
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from .boot import pure_name

__all__ = ("share_pure_python",)

_COMPILED = (".so", ".pyd", ".dylib", ".dll")
_Fingerprint = tuple[tuple[str, str], ...]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _members(tree: Path, entry: str) -> list[Path] | None:
    """The files of ``entry`` in ``tree`` (a module brings its ``__pycache__`` files)."""
    path = tree / entry
    if path.is_symlink():
        return None
    if path.is_file():
        members = [path]
        if entry.endswith(".py"):
            members += sorted((tree / "__pycache__").glob(f"{entry[:-3]}.*.pyc"))
        return members
    found = []
    for folder, directories, names in os.walk(path):
        directories.sort()
        for name in sorted(names):
            found.append(Path(folder, name))
    return found


def _fingerprint(tree: Path, entry: str) -> _Fingerprint | None:
    """Relative names and digests of an entry's files; ``None`` if it cannot be shared."""
    members = _members(tree, entry)
    if members is None:
        return None
    prints = []
    for member in members:
        name = member.name
        if member.is_symlink() or name.endswith(_COMPILED) or ".so." in name:
            return None
        prints.append((member.relative_to(tree).as_posix(), _digest(member)))
    return tuple(prints)


def share_pure_python(deps: Path, trees: Sequence[str]) -> list[str]:
    """Move what the ``trees`` under ``deps`` hold identically into one directory per version.

    Returns the names of the directories written (``pure-py3.11``); a version with a single
    tree is left alone.
    """
    by_version: dict[str, list[str]] = {}
    for name in trees:
        by_version.setdefault(name.rsplit("-py", 1)[1], []).append(name)
    written = []
    for version, names in sorted(by_version.items()):
        if len(names) < 2:
            continue
        folders = [deps / name for name in names]
        common = set.intersection(*({path.name for path in f.iterdir()} for f in folders))
        common -= {"__pycache__", "bin"}
        major, minor = version.split(".")
        shared = deps / pure_name((int(major), int(minor)))
        for entry in sorted(common):
            first = _fingerprint(folders[0], entry)
            if first is None or any(_fingerprint(f, entry) != first for f in folders[1:]):
                continue
            for relative, _digest_value in first:
                target = shared / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(folders[0] / relative, target)
            for folder in folders:
                path = folder / entry
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
                for relative, _digest_value in first:
                    (folder / relative).unlink(missing_ok=True)
        for folder in folders:
            cache = folder / "__pycache__"
            if cache.is_dir() and not any(cache.iterdir()):
                cache.rmdir()  # its modules' bytecode moved with them
        if shared.is_dir():
            written.append(shared.name)
    return written
