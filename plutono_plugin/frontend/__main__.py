"""``python -m plutono_plugin.frontend ENTRY OUTPUT``: write ENTRY's frontend schema as JSON.

What ``plutono-plugin build`` runs, with the launchers' interpreter, to generate ``module.js``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..cli.main import load_plugin
from ..plugin import Plugin
from .schema import frontend_schema


def main(arguments: list[str]) -> int:
    """Import the plugin named by ``arguments[0]`` and write its schema to ``arguments[1]``."""
    entry, output = arguments
    plugin = load_plugin(entry)
    if not isinstance(plugin, Plugin):
        raise SystemExit(f"{entry} is a {type(plugin).__name__}, not a Plugin")
    Path(output).write_text(json.dumps(frontend_schema(plugin)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
