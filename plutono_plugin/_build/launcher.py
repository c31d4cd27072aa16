"""The executable Plutono starts: a ``/bin/sh`` script that finds everything next to itself.

Plutono runs ``<dir>/<executable>_<goos>_<goarch>`` with no arguments from its own working
directory and passes its whole environment (contract 1.1, 1.2). The script locates its own
directory from ``$0`` (no build-machine path inside), takes the interpreter from
``PL_PLUGIN_PYTHON`` (the ini key ``[plugin.<id>] python``) or the one chosen at build time,
and runs ``lib/boot.py`` isolated (``-I -S``) without writing bytecode (``-B``: ``__pycache__``
files appearing at run time would make a signed plugin ``modified``, contract 2.2), passing its
own path, after which ``boot.py`` names the process (``pgrep gpx_<name>`` finds it). A missing
interpreter is reported as one hclog JSON line (contract 1.11), since Plutono shows plain stderr
only at debug level; every later check is in ``boot.py``.
"""

from __future__ import annotations

import json
import re
import shlex

__all__ = ("launcher_script",)


def launcher_script(plugin_id: str, python: str) -> str:
    """The launcher's text; the same file serves every platform of one build.

    ``plugin_id`` must be a safe name (``plugin.json`` is checked before a build): it is
    written into the script, and a newline in it would add a shell line (issue 17).
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", plugin_id):
        raise ValueError(f"plugin id {plugin_id!r} is not a safe name for the launcher")
    fix = (
        f"install Python or set [plugin.{plugin_id}] python = /path/to/python3 "
        "in the Plutono configuration (PL_PLUGIN_PYTHON)"
    )
    # printf arguments are JSON-escaped here; the interpreter's name is shown only when it
    # has nothing a JSON string would need to escape.
    return (
        "#!/bin/sh\n"
        f"# Launcher of the Plutono plugin {plugin_id}, written by `plutono-plugin build`.\n"
        "# Plutono runs it with no arguments from its own working directory.\n"
        'case $0 in */*) here=${0%/*} ;; *) here=. ;; esac\n'
        f"python=${{PL_PLUGIN_PYTHON:-{shlex.quote(python)}}}\n"
        'if ! command -v "$python" >/dev/null 2>&1; then\n'
        '  case $python in *[\\"\\\\]* | *[[:cntrl:]]*) shown="the configured interpreter" ;;'
        ' *) shown=$python ;; esac\n'
        "  printf '{\"@level\":\"error\",\"@message\":\"Python interpreter %s not found; "
        "fix: %s\",\"python\":\"%s\"}\\n' \\\n"
        f'    "$shown" {shlex.quote(json.dumps(fix)[1:-1])} "$shown" >&2\n'
        "  exit 1\n"
        "fi\n"
        "PYTHONDONTWRITEBYTECODE=1\n"
        "export PYTHONDONTWRITEBYTECODE\n"
        # $0 goes along so that boot.py can name the process after the launcher (pgrep).
        'exec "$python" -I -S -B "$here/lib/boot.py" "$0"\n'
    )
