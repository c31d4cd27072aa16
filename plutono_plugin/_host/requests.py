"""The dev host's side of the wire: build ``pluginv2`` requests the way Plutono does.

The plugin side converts messages *from* proto (``_runtime/convert.py``); the dev host needs
the other direction, plus the small pieces of ``/api/ds/query`` processing (contract 2.4.1)
that turn a frontend target into a ``DataQuery``: defaults for ``refId``, ``maxDataPoints``
and ``intervalMs``, the whole target re-encoded as Go would, and a time range from epoch
milliseconds or ``now-6h``-style expressions
(:func:`plutono_plugin.timeutil.parse_time`, shared with plugins).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .._proto import pluginv2
from ..context import AppSettings, DataSourceSettings, PluginContext, Secrets, User
from ..timeutil import TimeLike, parse_time

__all__ = (
    "DEFAULT_TIME_RANGE",
    "TimeLike",
    "data_query",
    "default_context",
    "go_json",
    "parse_time",
    "plugin_context_to_proto",
)

DEFAULT_TIME_RANGE: tuple[TimeLike, TimeLike] = ("now-6h", "now")
"""Plutono's default dashboard range."""


def go_json(value: Any) -> bytes:
    """Encode ``value`` like Plutono's Go encoder: sorted keys, no spaces, ``<>&`` escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode()


def _int_field(target: Mapping[str, Any], key: str, default: int) -> int:
    value = target.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"query {key} must be a number, got {value!r}")
    try:
        return int(float(value))
    except ValueError:
        raise ValueError(f"query {key} must be a number, got {value!r}") from None


def data_query(
    target: Mapping[str, Any],
    time_range: tuple[TimeLike, TimeLike],
    *,
    datasource_id: int | None = None,
    now: datetime | None = None,
) -> pluginv2.DataQuery:
    """Build the ``DataQuery`` Plutono sends for one frontend target (contract 2.4.1).

    Defaults: ``refId`` "A", ``maxDataPoints`` 100, ``intervalMs`` 1000, ``queryType`` "". The
    target's own ``from``/``to`` (request-level in Plutono) override ``time_range`` and are not
    part of the query JSON; ``datasourceId``, ``intervalMs`` and ``maxDataPoints`` are added to
    the JSON as the frontend does.
    """
    model = dict(target)
    start = model.pop("from", time_range[0])
    end = model.pop("to", time_range[1])
    ref_id = model.setdefault("refId", "A")
    if not isinstance(ref_id, str):
        raise ValueError(f"query refId must be a string, got {ref_id!r}")
    query_type = model.get("queryType", "")
    if not isinstance(query_type, str):
        raise ValueError(f"query queryType must be a string, got {query_type!r}")
    max_data_points = _int_field(model, "maxDataPoints", 100)
    interval_ms = _int_field(model, "intervalMs", 1000)
    model.setdefault("maxDataPoints", max_data_points)
    model.setdefault("intervalMs", interval_ms)
    if datasource_id is not None:
        model.setdefault("datasourceId", datasource_id)
    return pluginv2.DataQuery(
        ref_id=ref_id,
        max_data_points=max_data_points,
        interval_ms=interval_ms,
        time_range=pluginv2.TimeRange(
            from_epoch_ms=parse_time(start, now=now), to_epoch_ms=parse_time(end, now=now)
        ),
        json=go_json(model),
        query_type=query_type,
    )


def default_context(
    plugin_id: str,
    plugin_type: str,
    *,
    now_ms: int,
    json_data: Mapping[str, Any] | None = None,
    secure_json_data: Mapping[str, str] | None = None,
) -> PluginContext:
    """Org 1, a dev admin user and a datasource (id 1, "dev") or app settings.

    ``json_data`` and ``secure_json_data`` are the settings' ``jsonData`` (default ``{}``) and
    decrypted ``secureJsonData``; ``now_ms`` is their ``lastUpdatedMS``.
    """
    user = User(login="dev", name="Dev User", email="dev@localhost", role="Admin")
    raw = json.dumps(dict(json_data or {})).encode()
    secrets = Secrets(dict(secure_json_data or {}))
    if plugin_type == "app":
        app = AppSettings(raw, secrets, last_updated_ms=now_ms)
        return PluginContext(org_id=1, plugin_id=plugin_id, user=user, app=app)
    datasource = DataSourceSettings(
        id=1,
        name="dev",
        raw_json_data=raw,
        decrypted_secure_json_data=secrets,
        last_updated_ms=now_ms,
    )
    return PluginContext(org_id=1, plugin_id=plugin_id, user=user, datasource=datasource)


def _secrets(values: Secrets) -> dict[str, str]:
    return {key: values[key] for key in values}


def plugin_context_to_proto(context: PluginContext) -> pluginv2.PluginContext:
    """Convert a :class:`PluginContext` into the ``pluginContext`` message Plutono sends."""
    message = pluginv2.PluginContext(org_id=context.org_id, plugin_id=context.plugin_id)
    if context.user is not None:
        user = context.user
        message.user = pluginv2.User(
            login=user.login, name=user.name, email=user.email, role=user.role
        )
    if context.datasource is not None:
        settings = context.datasource
        message.data_source_instance_settings = pluginv2.DataSourceInstanceSettings(
            id=settings.id,
            name=settings.name,
            url=settings.url,
            user=settings.user,
            database=settings.database,
            basic_auth_enabled=settings.basic_auth_enabled,
            basic_auth_user=settings.basic_auth_user,
            json_data=settings.raw_json_data,
            decrypted_secure_json_data=_secrets(settings.decrypted_secure_json_data),
            last_updated_ms=settings.last_updated_ms,
            uid=settings.uid,
        )
    if context.app is not None:
        message.app_instance_settings = pluginv2.AppInstanceSettings(
            json_data=context.app.raw_json_data,
            decrypted_secure_json_data=_secrets(context.app.decrypted_secure_json_data),
            last_updated_ms=context.app.last_updated_ms,
        )
    return message
