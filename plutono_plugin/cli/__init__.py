"""The ``plutono-plugin`` command line (also ``python -m plutono_plugin``).

``main`` parses the command; ``build`` writes plugin directories; ``host`` is the dev host's
command line over :class:`~plutono_plugin.host.PluginHost`.
"""

from .main import main as main

__all__ = ("main",)
