"""pluginContext messages, as bytes on the wire, become the typed context a handler sees."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plutono_plugin._proto import pluginv2
from plutono_plugin._runtime.convert import (
    plugin_context_from_proto,
    time_from_epoch_ms,
    updated_from_epoch_ms,
)
from plutono_plugin.context import PluginContext, Secrets, User

# Go's zero time.Time sent as lastUpdatedMS when an app has no settings row (contract 2.4.4).
GO_ZERO_TIME_MS = -6795364578871


def wire(message: pluginv2.PluginContext) -> PluginContext:
    """Serialise to bytes, parse like the server does, convert."""
    return plugin_context_from_proto(pluginv2.PluginContext.parse(bytes(message)))


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int64 negatives are ten-byte two's complement varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    return tag(number, 2) + varint(len(payload)) + payload


def test_datasource_query_context() -> None:
    message = pluginv2.PluginContext(
        org_id=3,
        plugin_id="acme-datasource",
        user=pluginv2.User(login="alice", name="Alice", email="a@example.com", role="Editor"),
        data_source_instance_settings=pluginv2.DataSourceInstanceSettings(
            id=42,
            name="Acme prod",
            url="https://acme.example",
            user="svc",
            database="metrics",
            basic_auth_enabled=True,
            basic_auth_user="basic",
            json_data=b'{"timeout": 5}',
            decrypted_secure_json_data={"apiKey": "s3cr3t"},
            last_updated_ms=1_700_000_000_123,
        ),
    )
    context = wire(message)

    assert context.org_id == 3
    assert context.plugin_id == "acme-datasource"
    assert context.user == User(login="alice", name="Alice", email="a@example.com", role="Editor")
    assert context.app is None
    datasource = context.datasource
    assert datasource is not None
    assert (datasource.id, datasource.name, datasource.url) == (
        42,
        "Acme prod",
        "https://acme.example",
    )
    assert (datasource.user, datasource.database) == ("svc", "metrics")
    assert datasource.basic_auth_enabled is True
    assert datasource.basic_auth_user == "basic"
    assert datasource.json_data == {"timeout": 5}
    assert datasource.decrypted_secure_json_data == Secrets({"apiKey": "s3cr3t"})
    assert "s3cr3t" not in repr(context)
    assert datasource.last_updated_ms == 1_700_000_000_123
    assert datasource.updated == datetime(2023, 11, 14, 22, 13, 20, 123_000, tzinfo=UTC)
    assert datasource.uid == ""  # Plutono 7.5 never sets it (contract 2.4.1)


def test_alerting_context_has_no_user() -> None:
    message = pluginv2.PluginContext(
        org_id=1,
        plugin_id="acme-datasource",
        data_source_instance_settings=pluginv2.DataSourceInstanceSettings(id=7),
    )
    context = wire(message)
    assert context.user is None
    assert context.datasource is not None
    assert context.datasource.id == 7
    assert context.datasource.json_data == {}
    assert context.datasource.updated is None


def test_empty_app_settings_are_present_not_none() -> None:
    # App routes always carry appInstanceSettings, even empty (contract 2.4.4); an empty
    # sub-message is still on the wire and must not be mistaken for "no app".
    message = pluginv2.PluginContext(
        org_id=2,
        plugin_id="acme-app",
        app_instance_settings=pluginv2.AppInstanceSettings(last_updated_ms=GO_ZERO_TIME_MS),
    )
    context = wire(message)
    assert context.datasource is None
    assert context.app is not None
    assert context.app.json_data == {}
    assert len(context.app.decrypted_secure_json_data) == 0
    assert context.app.last_updated_ms == GO_ZERO_TIME_MS
    assert context.app.updated is None

    fully_empty = wire(pluginv2.PluginContext(app_instance_settings=pluginv2.AppInstanceSettings()))
    assert fully_empty.app is not None


def test_app_settings_with_values() -> None:
    message = pluginv2.PluginContext(
        org_id=2,
        plugin_id="acme-app",
        app_instance_settings=pluginv2.AppInstanceSettings(
            json_data=b'{"region": "eu"}',
            decrypted_secure_json_data={"token": "t0k"},
            last_updated_ms=1_000,
        ),
    )
    app = wire(message).app
    assert app is not None
    assert app.json_data == {"region": "eu"}
    assert app.decrypted_secure_json_data["token"] == "t0k"
    assert app.updated == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_missing_plugin_context_is_an_empty_context() -> None:
    request = pluginv2.QueryDataRequest.parse(bytes(pluginv2.QueryDataRequest()))
    assert plugin_context_from_proto(request.plugin_context) == PluginContext()


def test_bytes_encoded_from_the_contract_field_numbers() -> None:
    # Built by hand from contract 3.1 (not by the generated code) to pin the field numbers.
    settings = (
        tag(1, 0)
        + varint(9)
        + length_delimited(2, b"Hand made")
        + length_delimited(8, b'{"a": 1}')
        + length_delimited(9, length_delimited(1, b"key") + length_delimited(2, b"value"))
        + tag(10, 0)
        + varint(1_600_000_000_000)
    )
    app = tag(5, 0) + varint(GO_ZERO_TIME_MS)
    user = length_delimited(1, b"bob") + length_delimited(4, b"Viewer")
    raw = (
        tag(1, 0)
        + varint(5)
        + length_delimited(2, b"hand-ds")
        + length_delimited(3, user)
        + length_delimited(4, app)
        + length_delimited(5, settings)
    )
    context = plugin_context_from_proto(pluginv2.PluginContext.parse(raw))
    assert (context.org_id, context.plugin_id) == (5, "hand-ds")
    assert context.user == User(login="bob", role="Viewer")
    assert context.datasource is not None
    assert (context.datasource.id, context.datasource.name) == (9, "Hand made")
    assert context.datasource.json_data == {"a": 1}
    assert dict(context.datasource.decrypted_secure_json_data) == {"key": "value"}
    assert context.datasource.updated == datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)
    assert context.app is not None
    assert context.app.last_updated_ms == GO_ZERO_TIME_MS
    assert context.app.updated is None


def test_time_from_epoch_ms_keeps_milliseconds_exactly() -> None:
    moment = time_from_epoch_ms(1_700_000_000_999)
    assert moment.tzinfo is UTC
    assert moment.microsecond == 999_000
    assert int(moment.timestamp() * 1000) == 1_700_000_000_999
    assert time_from_epoch_ms(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert time_from_epoch_ms(-1) == datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)


def test_time_from_epoch_ms_out_of_range_names_the_value() -> None:
    with pytest.raises(ValueError, match="9223372036854775807"):
        time_from_epoch_ms(2**63 - 1)


@pytest.mark.parametrize("ms", [0, -1, GO_ZERO_TIME_MS, 2**63 - 1])
def test_unusable_last_updated_is_unknown(ms: int) -> None:
    assert updated_from_epoch_ms(ms) is None
