"""Typed HTTP settings: the generated page shows them, http_client(options) uses them."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from plutono_plugin import (
    ConfigurationError,
    DataSourceSettings,
    Field,
    Frame,
    Plugin,
    Query,
    RequestContext,
    Secret,
)
from plutono_plugin.context import PluginContext
from plutono_plugin.frontend import frontend_schema
from plutono_plugin.http import HTTPSettings, forward_headers, http_client
from plutono_plugin.http_options import HTTPOptions, secret_header
from plutono_plugin.testing import PluginTestClient, target
from tests.test_http import Server, _serve


@pytest.fixture
def upstream() -> Iterator[Server]:
    yield from _serve(None)


@dataclass
class Options(HTTPOptions):
    api_key: Secret | None = secret_header("X-API-Key")
    """The upstream's API key."""
    token: Secret | None = secret_header("Authorization", prefix="Bearer ")
    """A bearer token."""
    city: str = "berlin"


plugin = Plugin(options=Options)


@plugin.instance
async def api(options: Options) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(options) as client:
        yield client


@plugin.query("echo")
async def echo(query: Query, options: Options, context: RequestContext) -> Frame:
    response = await context.instance.get(f"/weather/{options.city}")
    response.raise_for_status()
    return Frame("", [Field("echo", [response.text])])


async def answer(client: PluginTestClient) -> dict[str, Any]:
    frames, error = (await client.query(target("A", query_type="echo")))["A"]
    assert error == ""
    echoed: dict[str, Any] = json.loads(frames[0].fields[0].values[0])
    return echoed


async def test_http_client_takes_url_headers_auth_and_secret_headers_from_options(
    upstream: Server,
) -> None:
    json_data = {"url": upstream.url + "/v1", "headers": {"X-Org": "42"}}
    secrets = {"apiKey": "k3y", "token": "t0k"}
    async with PluginTestClient(plugin, json_data=json_data, secure_json_data=secrets) as client:
        echoed = await answer(client)
    headers = {name.lower(): value for name, value in echoed["headers"].items()}
    assert echoed["path"] == "/v1/weather/berlin"
    assert headers["x-api-key"] == "k3y" and headers["authorization"] == "Bearer t0k"
    assert headers["x-org"] == "42"


async def test_basic_auth_from_options(upstream: Server) -> None:
    json_data = {"url": upstream.url, "basicAuth": True, "basicAuthUser": "ann"}
    async with PluginTestClient(
        plugin, json_data=json_data, secure_json_data={"basicAuthPassword": "pw"}
    ) as client:
        echoed = await answer(client)
    headers = {name.lower(): value for name, value in echoed["headers"].items()}
    assert headers["authorization"] == "Basic " + base64.b64encode(b"ann:pw").decode()


async def test_secret_headers_without_a_value_are_not_sent(upstream: Server) -> None:
    async with PluginTestClient(plugin, json_data={"url": upstream.url}) as client:
        echoed = await answer(client)
    headers = {name.lower() for name in echoed["headers"]}
    assert "x-api-key" not in headers and "authorization" not in headers


def test_the_generated_settings_page_shows_the_http_fields_first() -> None:
    keys = [field["key"] for field in frontend_schema(plugin)["options"]]
    assert keys[:5] == ["url", "timeoutS", "basicAuth", "basicAuthUser", "basicAuthPassword"]
    assert keys[-3:] == ["apiKey", "token", "city"]
    kinds = {field["key"]: field["kind"] for field in frontend_schema(plugin)["options"]}
    assert kinds["apiKey"] == "secret" and kinds["tlsClientKey"] == "secret"
    assert kinds["headers"] == "json"
    fields = {field["key"]: field for field in frontend_schema(plugin)["options"]}
    assert fields["basicAuthPassword"]["showWhen"] == {"key": "basicAuth", "values": [True]}
    assert fields["tlsCaCert"]["showWhen"] == {"key": "tlsWithCaCert", "values": [True]}
    assert fields["tlsClientCert"]["lines"] == 3


async def test_forward_oauth_identity_uses_plutonos_key(upstream: Server) -> None:
    user_token = {"Authorization": "Bearer user-token"}
    for switched, expected in ((True, "Bearer user-token"), (False, None)):
        context = RequestContext(
            plugin=PluginContext(
                datasource=DataSourceSettings(
                    1, raw_json_data=json.dumps({"oauthPassThru": switched}).encode()
                )
            ),
            headers=user_token,
        )
        assert forward_headers(context).get("Authorization") == expected
    fields = {field["key"] for field in frontend_schema(plugin)["options"]}
    assert "oauthPassThru" in fields


async def test_switched_off_auth_and_tls_are_not_used(upstream: Server) -> None:
    json_data = {"url": upstream.url, "basicAuthUser": "ann", "tlsCaCert": "not a PEM"}
    secrets = {"basicAuthPassword": "pw"}
    async with PluginTestClient(plugin, json_data=json_data, secure_json_data=secrets) as client:
        echoed = await answer(client)
    assert "authorization" not in {name.lower() for name in echoed["headers"]}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (Options(url="ftp://x"), "must start with http:// or https://"),
        (Options(timeout_s=0), "timeout_s must be a positive number"),
        (Options(headers={"Bad Name": "x"}), "'Bad Name' is not an HTTP header name"),
        (Options(api_key=Secret("a\nb")), "'X-API-Key' has a control character"),
        (Options(tls_client_auth=True, tls_client_cert="PEM"), "client cert or key is empty"),
    ],
)
def test_bad_options_name_the_field(options: Options, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        HTTPSettings.from_options(options)


def test_secret_header_refuses_a_bad_header_name() -> None:
    with pytest.raises(ValueError, match="not an HTTP header name"):
        secret_header("X Key")


def test_secrets_stay_out_of_the_repr() -> None:
    assert "k3y" not in repr(Options(api_key=Secret("k3y")))
