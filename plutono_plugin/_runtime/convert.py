"""Between the generated ``pluginv2`` messages and the core's plain, typed objects.

The services call these; everything downstream sees :mod:`plutono_plugin.context`,
:mod:`plutono_plugin.query` and :mod:`plutono_plugin.resource` types.

betterproto2 decodes an absent sub-message (``user``, ``dataSourceInstanceSettings``,
``appInstanceSettings``) as ``None`` and a present-but-empty one as a default message, which is
exactly the distinction Plutono makes: app routes always send ``appInstanceSettings``, even when
empty (contract 2.4.4), and alerting sends no ``user`` (contract 2.4.1).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .._proto import pluginv2
from .._time import EPOCH
from ..context import AppSettings, DataSourceSettings, PluginContext, Secrets, User
from ..query import Query, TimeRange
from ..resource import ResourceResponse

__all__ = (
    "app_settings_from_proto",
    "datasource_settings_from_proto",
    "plugin_context_from_proto",
    "query_from_proto",
    "resource_message_to_proto",
    "time_from_epoch_ms",
    "updated_from_epoch_ms",
    "user_from_proto",
)


def time_from_epoch_ms(ms: int) -> datetime:
    """Convert epoch milliseconds to an aware UTC :class:`datetime`, exactly (no float rounding).

    Zero and negative values are valid instants (an unparsable query range is epoch 0, contract
    2.4.1). A value outside :class:`datetime`'s range raises :class:`ValueError` naming it.

    Example::

        assert time_from_epoch_ms(1_500) == datetime(1970, 1, 1, 0, 0, 1, 500_000, tzinfo=UTC)
    """
    try:
        return EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        raise ValueError(f"epoch milliseconds {ms} are outside the representable range") from None


def updated_from_epoch_ms(ms: int) -> datetime | None:
    """Convert ``lastUpdatedMS`` to a time, or ``None`` when the host sends no usable value.

    Go's zero ``time.Time`` overflows ``UnixNano()`` and arrives as a large negative number
    (e.g. ``-6795364578871``, contract 2.4.4), and an unset field is 0: both mean "unknown".
    """
    if ms <= 0:
        return None
    try:
        return time_from_epoch_ms(ms)
    except ValueError:
        return None


def user_from_proto(message: pluginv2.User | None) -> User | None:
    """Convert the signed-in user; ``None`` when the host sends none (alerting, expressions)."""
    if message is None:
        return None
    return User(login=message.login, name=message.name, email=message.email, role=message.role)


def datasource_settings_from_proto(
    message: pluginv2.DataSourceInstanceSettings,
) -> DataSourceSettings:
    """Convert ``dataSourceInstanceSettings`` to :class:`DataSourceSettings` (contract 2.4.1)."""
    return DataSourceSettings(
        id=message.id,
        name=message.name,
        url=message.url,
        user=message.user,
        database=message.database,
        basic_auth_enabled=message.basic_auth_enabled,
        basic_auth_user=message.basic_auth_user,
        raw_json_data=bytes(message.json_data),
        decrypted_secure_json_data=Secrets(message.decrypted_secure_json_data),
        last_updated_ms=message.last_updated_ms,
        updated=updated_from_epoch_ms(message.last_updated_ms),
        uid=message.uid,
    )


def app_settings_from_proto(message: pluginv2.AppInstanceSettings) -> AppSettings:
    """Convert ``appInstanceSettings`` to :class:`AppSettings` (contract 2.4.4)."""
    return AppSettings(
        raw_json_data=bytes(message.json_data),
        decrypted_secure_json_data=Secrets(message.decrypted_secure_json_data),
        last_updated_ms=message.last_updated_ms,
        updated=updated_from_epoch_ms(message.last_updated_ms),
    )


def plugin_context_from_proto(message: pluginv2.PluginContext | None) -> PluginContext:
    """Convert the request's ``pluginContext`` into a frozen :class:`PluginContext`.

    A request without ``pluginContext`` (never sent by Plutono, but legal protobuf) gives an empty
    context rather than an error, so a handler can still answer.

    Example::

        message = pluginv2.PluginContext(org_id=1, plugin_id="my-ds")
        assert plugin_context_from_proto(message).datasource is None
    """
    if message is None:
        return PluginContext()
    datasource = message.data_source_instance_settings
    app = message.app_instance_settings
    return PluginContext(
        org_id=message.org_id,
        plugin_id=message.plugin_id,
        user=user_from_proto(message.user),
        datasource=None if datasource is None else datasource_settings_from_proto(datasource),
        app=None if app is None else app_settings_from_proto(app),
    )


def query_from_proto(message: pluginv2.DataQuery) -> Query:
    """The host's ``DataQuery`` as the core's :class:`~plutono_plugin.query.Query`."""
    span = message.time_range
    start = time_from_epoch_ms(span.from_epoch_ms if span else 0)
    end = time_from_epoch_ms(span.to_epoch_ms if span else 0)
    return Query(
        ref_id=message.ref_id,
        query_type=message.query_type,
        time_range=TimeRange(start, end),
        interval=timedelta(milliseconds=message.interval_ms),
        max_data_points=message.max_data_points,
        raw_json=bytes(message.json),
    )


def resource_message_to_proto(
    response: ResourceResponse, body: bytes
) -> pluginv2.CallResourceResponse:
    """The first (or only) message of a resource response: status, headers, first chunk."""
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.items():
        headers.setdefault(name, []).append(value)
    return pluginv2.CallResourceResponse(
        code=response.status,
        headers={name: pluginv2.StringList(values=values) for name, values in headers.items()},
        body=body,
    )
