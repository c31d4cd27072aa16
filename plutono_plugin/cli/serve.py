"""Serve a plugin's entry: what ``plutono-plugin run`` and a built plugin's ``lib/boot.py`` do.

Apart from :mod:`.main`, so the build (whose ``boot`` ends here) and the parser import no cycle.
"""

from __future__ import annotations

import importlib
import os
import sys

__all__ = ("load_plugin", "serve")


def load_plugin(entry: str, *, search_cwd: bool = True) -> object:
    """Import ``module:attribute`` and return the attribute.

    With ``search_cwd`` the current directory goes on ``sys.path`` (``plutono-plugin run`` in
    a source tree); a shipped plugin passes ``False``: its cwd is Plutono's (contract 1.1).
    """
    module_name, _, attribute = entry.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"plutono-plugin: entry {entry!r} must be module:attribute")
    if search_cwd and "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise SystemExit(f"plutono-plugin: module {module_name!r} has no {attribute!r}") from None


def serve(entry: str, *, search_cwd: bool = False) -> int:
    """Serve the :class:`~plutono_plugin.Plugin` at ``entry`` as Plutono's child process.

    What a built plugin's ``lib/boot.py`` (and ``plutono-plugin run``) ends with: the cookie
    check, the import of the plugin, then the server until the host stops it.
    """
    from .._runtime.runner import check_host

    # The cookie check comes before importing the plugin's code and its libraries (contract 1.3).
    status = check_host(os.environ)
    if status is not None:
        return status
    from ..plugin import Plugin

    plugin = load_plugin(entry, search_cwd=search_cwd)
    if not isinstance(plugin, Plugin):
        raise SystemExit(f"plutono-plugin: {entry} is a {type(plugin).__name__}, not a Plugin")
    from .._runtime.runner import exit_process, run_plugin

    exit_process(run_plugin(plugin))
