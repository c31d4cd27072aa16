"""Turn the generated ``pluginv2`` messages into the framework's plain, typed context objects.

This module and the adapter layer are the only places that import the generated code
(``plutono_plugin._proto``); everything downstream sees :mod:`plutono_plugin.context` types.

betterproto2 decodes an absent sub-message (``user``, ``dataSourceInstanceSettings``,
``appInstanceSettings``) as ``None`` and a present-but-empty one as a default message, which is
exactly the distinction Plutono makes: app routes always send ``appInstanceSettings``, even when
empty (contract 2.4.4), and alerting sends no ``user`` (contract 2.4.1).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ._proto import pluginv2
from .context import AppSettings, DataSourceSettings, PluginContext, Secrets, User

__all__ = (
    "app_settings_from_proto",
    "datasource_settings_from_proto",
    "plugin_context_from_proto",
    "time_from_epoch_ms",
    "updated_from_epoch_ms",
    "user_from_proto",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time_from_epoch_ms(ms: int) -> datetime:
    """Convert epoch milliseconds to an aware UTC :class:`datetime`, exactly (no float rounding).

    Zero and negative values are valid instants (an unparsable query range is epoch 0, contract
    2.4.1). A value outside :class:`datetime`'s range raises :class:`ValueError` naming it.

    Example::

        assert time_from_epoch_ms(1_500) == datetime(1970, 1, 1, 0, 0, 1, 500_000, tzinfo=UTC)
    """
    try:
        return _EPOCH + timedelta(milliseconds=ms)
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
