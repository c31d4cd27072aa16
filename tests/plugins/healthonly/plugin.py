"""An app plugin with a health check and nothing else: Data and Resource stay unimplemented."""

from __future__ import annotations

from plutono_plugin import HealthResult, Plugin, RequestContext

plugin = Plugin()


@plugin.check_health
async def health(context: RequestContext) -> HealthResult:
    return HealthResult.ok("app is fine", details={"org": context.plugin.org_id})
