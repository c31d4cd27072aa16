"""The generated, build-free frontend: a ``module.js`` written from what the plugin declares.

Plutono's UI loads ``<plugin dir>/module.js`` with SystemJS as an AMD module and gives it
``react``, ``@credativ/plutono-data``, ``@credativ/plutono-ui`` and
``@credativ/plutono-runtime``; without it a datasource's settings page shows only a fetch
error and Explore refuses it (contract 2.1). ``plutono-plugin build`` writes one unless the
plugin ships its own:

* a datasource gets a config editor with one input per field of ``Plugin(options=...)`` and a
  query editor with a query-type selector and one input per field of each type's query model;
  queries and "Save & Test" go through ``DataSourceWithBackend`` (alerting works too);
* an app gets a configuration page that enables or disables it.

:func:`frontend_schema` says what the editors show (a JSON document embedded in the module);
:func:`render_module` writes the module; docs/frontend.md explains the result.
"""

from __future__ import annotations

from .render import render_module, write_frontend
from .schema import frontend_schema

__all__ = ("frontend_schema", "render_module", "write_frontend")
