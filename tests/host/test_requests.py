"""Requests as Plutono builds them: times, data queries, plugin contexts, frontend targets."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import pytest

from plutono_plugin._host.requests import data_query, go_json, parse_time, plugin_context_to_proto
from plutono_plugin._runtime.convert import plugin_context_from_proto
from plutono_plugin.context import DataSourceSettings, PluginContext, Secrets, User
from plutono_plugin.host import target

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="shell-script plugins")


def test_times_accept_epoch_ms_relative_and_datetimes() -> None:
    now = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)
    assert parse_time("1500", now=now) == 1500
    assert parse_time(1500) == 1500
    assert parse_time("now-6h", now=now) == int(now.timestamp() * 1000) - 6 * 3_600_000
    assert parse_time("now-1M", now=now) == int(
        datetime(2024, 2, 29, 12, tzinfo=UTC).timestamp() * 1000
    )
    assert parse_time(now) == int(now.timestamp() * 1000)
    with pytest.raises(ValueError, match="cannot read time 'yesterday'"):
        parse_time("yesterday")
    with pytest.raises(ValueError, match="no timezone"):
        parse_time(datetime(2024, 1, 1))


def test_data_query_has_plutonos_defaults_and_go_encoded_json() -> None:
    query = data_query(
        {"queryType": "sine", "expr": "a<b&c", "from": "1000", "to": "2000"},
        ("now-6h", "now"),
        datasource_id=7,
    )
    assert (query.ref_id, query.query_type, query.max_data_points, query.interval_ms) == (
        "A",
        "sine",
        100,
        1000,
    )
    assert query.time_range is not None
    assert (query.time_range.from_epoch_ms, query.time_range.to_epoch_ms) == (1000, 2000)
    assert query.json == (
        b'{"datasourceId":7,"expr":"a\\u003cb\\u0026c","intervalMs":1000,'
        b'"maxDataPoints":100,"queryType":"sine","refId":"A"}'
    )
    assert json.loads(go_json({"k": "<>"})) == {"k": "<>"}
    with pytest.raises(ValueError, match="maxDataPoints must be a number"):
        data_query({"maxDataPoints": "many"}, ("now-1h", "now"))


def test_plugin_context_survives_the_trip_through_proto() -> None:
    context = PluginContext(
        org_id=3,
        plugin_id="my-ds",
        user=User(login="ann", name="Ann", email="ann@example.com", role="Editor"),
        datasource=DataSourceSettings(
            id=9,
            name="prod",
            url="http://db",
            basic_auth_enabled=True,
            basic_auth_user="u",
            raw_json_data=b'{"timeout": 5}',
            decrypted_secure_json_data=Secrets({"password": "pw"}),
            last_updated_ms=1_700_000_000_000,
        ),
    )
    back = plugin_context_from_proto(plugin_context_to_proto(context))
    assert back.org_id == 3 and back.plugin_id == "my-ds" and back.user == context.user
    assert back.datasource is not None
    assert back.datasource.json_data == {"timeout": 5}
    assert back.datasource.decrypted_secure_json_data["password"] == "pw"
    assert (back.datasource.url, back.datasource.basic_auth_user) == ("http://db", "u")
    assert back.app is None


def test_target_builds_frontend_json() -> None:
    assert target("B", query_type="sine", amplitude=2) == {
        "refId": "B",
        "queryType": "sine",
        "amplitude": 2,
    }


# -- launching like Plutono (contract 1.1, 1.2, 2.1) ----------------------------------------------
