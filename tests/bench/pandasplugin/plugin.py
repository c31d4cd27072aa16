"""Benchmark plugin: imports pandas at start, as a pandas datasource does (issue #18).

The cold start of this plugin's shipped directory, beside the quickstart's, is what a plugin
author who reaches for pandas pays at every start (``python -m tests.bench --only pandas``).
"""

from __future__ import annotations

import pandas

from plutono_plugin import Frame, Plugin, Query

plugin = Plugin()


@plugin.query("rows")
async def rows(query: Query) -> Frame:
    """A small frame built with pandas, so the import is the plugin's own."""
    table = pandas.DataFrame({"time": [query.time_range.start], "value": [1.0]})
    return Frame.from_pandas(table, name="rows")
