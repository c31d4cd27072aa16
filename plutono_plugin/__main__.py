"""``python -m plutono_plugin``: see :mod:`plutono_plugin.cli`."""

from plutono_plugin.cli import main

raise SystemExit(main())
