"""The ``plutono-plugin`` command line (also ``python -m plutono_plugin``).

``main`` parses the command; ``serve`` runs a plugin's entry; ``build`` writes self-contained
plugin directories (its parts are in :mod:`plutono_plugin._build`), ``package`` zips them,
``doctor`` checks one as Plutono would start it; ``host`` is the dev host's command line over
:class:`~plutono_plugin.host.PluginHost`.
"""

from .main import main as main

__all__ = ("main",)
