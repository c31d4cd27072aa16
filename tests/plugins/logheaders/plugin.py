"""Logs the call's headers every careless way (issue 17 item 7); the host must see none."""

from __future__ import annotations

import logging

from plutono_plugin import Field, Frame, Plugin, Query, RequestContext

plugin = Plugin()
logger = logging.getLogger("logheaders")


@plugin.query()
async def careless(query: Query, context: RequestContext) -> Frame:
    """Log the headers in the five ways issue 17 tried, then answer with the token's length."""
    logger.warning("way 1 %s", context.headers)
    logger.warning("way 2 %r", context.headers)
    logger.warning("way 3 %s", dict(context.headers))
    logger.warning("way 4", extra={"headers": context.headers, "copy": dict(context.headers)})
    logger.warning("way 5 %s", context)
    return Frame(query.ref_id, [Field("length", [len(context.headers.get("Authorization", ""))])])


if __name__ == "__main__":
    plugin.run()
