"""The HTTP client built from datasource settings, against real local HTTP and HTTPS servers.

The TLS material is generated per session with trustme (a CA, a server certificate for
127.0.0.1 and a client certificate); the servers are stdlib ``http.server`` in threads, so
the client speaks to a real TLS stack, real sockets and a real proxy hop.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import socketserver
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from plutono_plugin import (
    ConfigurationError,
    DataSourceSettings,
    Field,
    Frame,
    Plugin,
    Query,
    Secrets,
)
from plutono_plugin._proxy import EnvironmentProxies
from plutono_plugin.context import PluginContext, RequestContext
from plutono_plugin.http import HTTPSettings, forward_headers, http_client, system_ssl_context
from plutono_plugin.instances import InstanceManager
from plutono_plugin.testing import PluginTestClient, target


class Echo(BaseHTTPRequestHandler):
    """Answers every GET with what it received: path, headers, client certificate."""

    def do_GET(self) -> None:
        if self.path.startswith("/login/"):  # an upstream session, as a real API would set
            self.send_response(204)
            self.send_header("Set-Cookie", f"session={self.path.removeprefix('/login/')}; Path=/")
            self.end_headers()
            return
        peer: Any = None
        if isinstance(self.connection, ssl.SSLSocket):
            certificate = self.connection.getpeercert()
            if certificate:
                subject: Any = certificate["subject"]  # ((("commonName", "..."),), ...)
                names = [pair for entry in subject for pair in entry]
                peer = next((value for key, value in names if key == "commonName"), None)
        body = json.dumps(
            {
                "path": self.path,
                "headers": dict(self.headers.items()),
                "client": peer,
                "address": self.client_address[0],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a refused TLS handshake is what some tests expect


@dataclass
class Server:
    url: str
    server: Quiet


def _serve(context: ssl.SSLContext | None) -> Iterator[Server]:
    server = Quiet(("127.0.0.1", 0), Echo)
    scheme = "http"
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"{scheme}://127.0.0.1:{server.server_address[1]}", server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def client_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("plugin-client@example.test", common_name="plugin-client")


@pytest.fixture
def http_server() -> Iterator[Server]:
    yield from _serve(None)


@pytest.fixture
def https_server(ca: trustme.CA) -> Iterator[Server]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "upstream.test").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_OPTIONAL  # reports the client certificate when one is sent
    yield from _serve(context)


def settings(
    url: str,
    json_data: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    **extra: Any,
) -> DataSourceSettings:
    return DataSourceSettings(
        id=7,
        name="api",
        url=url,
        raw_json_data=json.dumps(json_data or {}).encode(),
        decrypted_secure_json_data=Secrets(secrets or {}),
        last_updated_ms=extra.pop("last_updated_ms", 1),
        **extra,
    )


async def get(client: httpx.AsyncClient, path: str = "/x", **options: Any) -> dict[str, Any]:
    response = await client.get(path, **options)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


async def test_base_url_basic_auth_and_custom_headers_from_plutono_keys(
    http_server: Server,
) -> None:
    ds = settings(
        http_server.url + "/base",
        {"httpHeaderName1": "X-Org", "httpHeaderName2": "X-Key", "httpHeaderName4": "X-Lost"},
        {"httpHeaderValue1": "42", "httpHeaderValue2": "k3y", "basicAuthPassword": "pw"},
        basic_auth_enabled=True,
        basic_auth_user="alice",
    )

    async with http_client(ds) as client:
        seen = await get(client, "/series?q=1")

    assert seen["path"] == "/base/series?q=1"
    headers = seen["headers"]
    assert headers["X-Org"] == "42" and headers["X-Key"] == "k3y"
    assert "X-Lost" not in headers  # Plutono stops at the first missing number (3)
    assert headers["Authorization"] == httpx.BasicAuth("alice", "pw")._auth_header


async def test_oauth_pass_through_forwards_the_users_authorization(http_server: Server) -> None:
    on = settings(http_server.url, {"oauthPassThru": True})
    off = settings(http_server.url)
    user_call = {"Authorization": "Bearer user-token"}

    async with http_client(on) as client:
        context = RequestContext(plugin=PluginContext(datasource=on), headers=user_call)
        seen = await get(client, headers=forward_headers(context))
        alert = RequestContext(plugin=PluginContext(datasource=on), headers={"FromAlert": "true"})
        unseen = await get(client, headers=forward_headers(alert))
    assert seen["headers"]["Authorization"] == "Bearer user-token"
    assert "Authorization" not in unseen["headers"]  # alerting has no user (contract 2.4.2)
    context = RequestContext(plugin=PluginContext(datasource=off), headers=user_call)
    assert forward_headers(context) == {}  # not forwarded unless the datasource says so


async def test_tls_with_the_datasource_ca_and_a_client_certificate(
    https_server: Server, ca: trustme.CA, client_cert: trustme.LeafCert
) -> None:
    ds = settings(
        https_server.url,
        {"tlsAuthWithCACert": True, "tlsAuth": True},
        {
            "tlsCACert": ca.cert_pem.bytes().decode(),
            "tlsClientCert": client_cert.cert_chain_pems[0].bytes().decode(),
            "tlsClientKey": client_cert.private_key_pem.bytes().decode(),
        },
    )

    async with http_client(ds) as client:
        seen = await get(client)

    assert seen["client"] == "plugin-client"  # the server saw our certificate


async def test_tls_server_name_overrides_the_name_verified(
    https_server: Server, ca: trustme.CA
) -> None:
    localhost_url = https_server.url.replace("127.0.0.1", "localhost")
    trusted = {"tlsCACert": ca.cert_pem.bytes().decode()}
    wrong = settings(localhost_url, {"tlsAuthWithCACert": True}, trusted)
    named = settings(
        localhost_url, {"tlsAuthWithCACert": True, "serverName": "upstream.test"}, trusted
    )

    async with http_client(wrong) as client:
        with pytest.raises(httpx.ConnectError, match="localhost"):
            await get(client)  # the certificate is for 127.0.0.1 and upstream.test only
    async with http_client(named) as client:
        assert (await get(client))["client"] is None


async def test_unknown_ca_fails_unless_verification_is_skipped(https_server: Server) -> None:
    async with http_client(settings(https_server.url)) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await get(client)
    async with http_client(settings(https_server.url, {"tlsSkipVerify": True})) as client:
        assert (await get(client))["path"] == "/x"


async def test_proxy_comes_from_the_environment(
    http_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", http_server.url)

    async with http_client(settings("http://upstream.invalid/api")) as client:
        seen = await get(client, "/q")

    # The echo server played the proxy: it received the absolute URL of the real target.
    assert seen["path"] == "http://upstream.invalid/api/q"


async def test_timeout_from_json_data(http_server: Server) -> None:
    async with http_client(settings(http_server.url, {"timeout": "2.5"})) as client:
        assert client.timeout == httpx.Timeout(2.5)
    async with http_client(settings(http_server.url)) as client:
        assert client.timeout == httpx.Timeout(30.0)  # Plutono's [dataproxy] timeout default


@pytest.mark.parametrize(
    ("json_data", "secrets", "message"),
    [
        ({"timeout": "soon"}, {}, "jsonData.timeout must be a positive, finite number"),
        ({"tlsSkipVerify": "yes"}, {}, "jsonData.tlsSkipVerify must be true or false"),
        ({"tlsAuth": True}, {}, "tlsClientCert or tlsClientKey is empty"),
        ({"tlsAuthWithCACert": True}, {"tlsCACert": "not a pem"}, "tlsCACert is not a PEM"),
        (
            {"tlsAuth": True},
            {"tlsClientCert": "-----BEGIN CERTIFICATE-----\nAA==\n", "tlsClientKey": "x"},
            "tlsClientCert/tlsClientKey are not a matching PEM",
        ),
    ],
)
def test_bad_settings_name_the_key(
    json_data: dict[str, Any], secrets: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        http_client(settings("http://x", json_data, secrets))
    assert "datasource 'api' (id 7)" in str(caught.value)


def test_secrets_stay_out_of_the_repr() -> None:
    ds = settings("http://x", {"httpHeaderName1": "X-Key"}, {"httpHeaderValue1": "s3cr3t"})
    assert "s3cr3t" not in repr(HTTPSettings.from_datasource(ds))


async def test_one_client_per_instance_closed_when_settings_change(http_server: Server) -> None:
    async def api(ds: DataSourceSettings) -> AsyncIterator[httpx.AsyncClient]:
        async with http_client(ds) as client:
            yield client

    manager = InstanceManager(api)
    first = PluginContext(datasource=settings(http_server.url, last_updated_ms=1))
    async with manager.acquire(first) as one, manager.acquire(first) as same:
        assert one is same and one is not None
        assert (await get(one))["path"] == "/x"
    changed = PluginContext(datasource=settings(http_server.url, last_updated_ms=2))
    async with manager.acquire(changed) as two:
        assert two is not None and two is not one
        for _ in range(100):  # the old instance is disposed in its own task
            if one.is_closed:
                break
            await asyncio.sleep(0.01)
        assert one.is_closed and not two.is_closed
    await manager.aclose()
    assert two.is_closed


async def test_a_plugin_query_calls_upstream_with_the_users_token(http_server: Server) -> None:
    plugin = Plugin()
    clients: list[httpx.AsyncClient] = []

    @plugin.instance
    async def api(ds: DataSourceSettings) -> AsyncIterator[httpx.AsyncClient]:
        async with http_client(ds) as client:
            clients.append(client)
            yield client

    @plugin.query()
    async def upstream(query: Query, context: RequestContext) -> Frame:
        seen = await get(context.instance, f"/{query.ref_id}", headers=forward_headers(context))
        return Frame("", [Field("authorization", [seen["headers"].get("Authorization", "")])])

    def at(version: int) -> PluginContext:
        ds = settings(http_server.url, {"oauthPassThru": True}, last_updated_ms=version)
        return PluginContext(org_id=1, plugin_id="api", datasource=ds)

    token = {"Authorization": "Bearer abc"}
    async with PluginTestClient(plugin) as client:
        [frame], error = (await client.query(target("A"), context=at(1), headers=token))["A"]
        assert error == "" and frame.fields[0].values == ["Bearer abc"]
        await client.query(target("B"), context=at(1), headers=token)
        assert len(clients) == 1  # one client per datasource, reused
        await client.query(target("C"), context=at(2))  # settings saved: a new instance
        assert len(clients) == 2
        for _ in range(100):
            if clients[0].is_closed:
                break
            await asyncio.sleep(0.01)
        assert clients[0].is_closed and not clients[1].is_closed
    assert clients[1].is_closed  # disposed at shutdown


async def test_no_cookie_is_kept_between_calls(http_server: Server) -> None:
    ds = settings(http_server.url, {"oauthPassThru": True})

    async with http_client(ds) as client:
        alice = RequestContext(plugin=PluginContext(datasource=ds), headers={"Authorization": "A"})
        await client.get("/login/alice", headers=forward_headers(alice))
        bob = RequestContext(plugin=PluginContext(datasource=ds), headers={"Authorization": "B"})
        seen_by_bob = await get(client, headers=forward_headers(bob))
        alert = RequestContext(plugin=PluginContext(datasource=ds), headers={"FromAlert": "true"})
        seen_by_alert = await get(client, headers=forward_headers(alert))
        per_call = await get(client, headers={"Cookie": "chosen=1"})  # the caller's own, per call

    assert seen_by_bob["headers"]["Authorization"] == "B"
    assert "Cookie" not in seen_by_bob["headers"]  # alice's upstream session stays hers
    assert "Cookie" not in seen_by_alert["headers"]
    assert "Authorization" not in seen_by_alert["headers"]
    assert per_call["headers"]["Cookie"] == "chosen=1"
    assert not client.cookies


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


async def test_loopback_and_no_proxy_hosts_are_not_proxied(
    http_server: Server, proxy_env: pytest.MonkeyPatch
) -> None:
    proxy = Quiet(("127.0.0.1", 0), Echo)  # a second server plays the proxy
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        proxy_env.setenv("HTTP_PROXY", f"127.0.0.1:{proxy.server_address[1]}")  # no scheme: http
        proxy_env.setenv("NO_PROXY", "internal.invalid, .corp.invalid:80")
        port = http_server.url.rsplit(":", 1)[1]
        async with http_client(settings(http_server.url)) as client:
            loopback = await get(client, "/direct")
            by_name = await get(client, f"http://localhost:{port}/by-name")
            proxied = await get(client, "http://upstream.invalid/q")
            with pytest.raises(httpx.ConnectError):  # direct: the name does not resolve
                await client.get("http://api.internal.invalid/q")
            with pytest.raises(httpx.ConnectError):
                await client.get("http://db.corp.invalid/q")
            wrong_port = await get(client, "http://db.corp.invalid:8080/q")
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(5)

    # Go's ProxyFromEnvironment never proxies loopback: the token stays on this machine
    assert loopback["path"] == "/direct" and by_name["path"] == "/by-name"
    assert proxied["path"] == "http://upstream.invalid/q"  # the proxy got the absolute URL
    assert wrong_port["path"] == "http://db.corp.invalid:8080/q"


async def test_https_requests_use_only_https_proxy(
    http_server: Server, proxy_env: pytest.MonkeyPatch
) -> None:
    proxy_env.setenv("HTTP_PROXY", http_server.url)
    proxy_env.setenv("ALL_PROXY", http_server.url)  # Go does not read ALL_PROXY

    async with http_client(settings("https://upstream.invalid")) as client:
        with pytest.raises(httpx.ConnectError):  # went direct, not through HTTP_PROXY
            await client.get("/x")


def test_the_system_ca_store_is_loaded_once_and_only_for_https(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[object] = []
    original = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        loads.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    system_ssl_context.cache_clear()
    try:
        plain = [http_client(settings("http://127.0.0.1:9")) for _ in range(20)]
        assert loads == []  # http:// only: no certificate is read
        secure = [http_client(settings(f"https://upstream-{n}.test")) for n in range(20)]
        assert len(loads) == 1  # twenty https datasources, one CA store
        first = HTTPSettings(url="https://a.test").ssl_context()
        assert first is HTTPSettings(url="https://b.test").ssl_context()
    finally:
        system_ssl_context.cache_clear()
    for client in plain + secure:
        asyncio.run(client.aclose())


async def test_a_non_ascii_header_value_is_sent_as_utf8(http_server: Server) -> None:
    ds = settings(http_server.url, {"httpHeaderName1": "X-Team"}, {"httpHeaderValue1": "Grüße ✓"})

    async with http_client(ds) as client:
        seen = await get(client)

    # http.server decodes header bytes as latin-1; the bytes on the wire were UTF-8, like Go's
    assert seen["headers"]["X-Team"].encode("latin-1").decode() == "Grüße ✓"


GO_RULES = {"HTTP_PROXY": "http.proxy:3128", "HTTPS_PROXY": "https://secure.proxy"}


@pytest.mark.parametrize(
    ("no_proxy", "url", "proxied"),
    [  # golang.org/x/net/http/httpproxy: useProxy and config.init, case by case
        ("", "http://example.com/", "http://http.proxy:3128"),
        ("", "https://example.com/", "https://secure.proxy"),
        ("", "http://localhost:3000/", ""),
        ("", "http://127.0.0.2/", ""),
        ("", "http://[::1]:80/", ""),
        ("", "http://[::ffff:127.0.0.1]/", ""),
        ("*", "http://example.com/", ""),
        ("example.com", "http://example.com/", ""),
        ("example.com", "http://api.example.com/", ""),
        ("example.com", "http://notexample.com/", "http://http.proxy:3128"),
        (".example.com", "http://example.com/", "http://http.proxy:3128"),
        (".example.com", "http://api.example.com/", ""),
        ("*.example.com", "http://api.example.com/", ""),
        ("example.com:8080", "http://example.com/", "http://http.proxy:3128"),
        ("example.com:8080", "http://example.com:8080/", ""),
        ("EXAMPLE.com", "http://Example.COM/", ""),
        ("10.0.0.0/8", "http://10.1.2.3/", ""),
        ("10.0.0.0/8", "http://11.1.2.3/", "http://http.proxy:3128"),
        ("192.168.1.5", "http://192.168.1.5/", ""),
        ("192.168.1.5:81", "http://192.168.1.5/", "http://http.proxy:3128"),
        ("[2001:db8::1]:443", "https://[2001:db8::1]/", ""),
        (" , example.com ,", "http://example.com/", ""),
    ],
)
def test_proxy_rules_are_gos(no_proxy: str, url: str, proxied: str) -> None:
    proxies = EnvironmentProxies.from_environment({**GO_RULES, "NO_PROXY": no_proxy})

    assert proxies.proxy_for(url) == proxied


def test_proxy_variables_as_go_reads_them() -> None:
    def read(**environment: str) -> EnvironmentProxies:
        return EnvironmentProxies.from_environment(environment)

    assert read(HTTP_PROXY="http://UP", http_proxy="http://low").http_proxy == "http://UP"
    assert read(HTTP_PROXY="", http_proxy="http://low").http_proxy == "http://low"
    assert read(HTTP_PROXY="http://p", REQUEST_METHOD="GET").http_proxy == ""  # CGI: httpoxy
    assert read(HTTPS_PROXY="socks5://s:1080").https_proxy == "socks5://s:1080"
    assert read(HTTP_PROXY="p:1").proxy_for("https://example.com/") == ""  # no fallback
    assert read(no_proxy="example.com", HTTP_PROXY="p").proxy_for("http://example.com") == ""


async def test_connection_options_reach_every_transport(http_server: Server) -> None:
    async with http_client(settings(http_server.url), local_address="127.0.0.2") as client:
        seen = await get(client)

    assert seen["address"] == "127.0.0.2"  # httpx alone would drop it next to transport=


class _Tunnel(BaseHTTPRequestHandler):
    """A real CONNECT proxy; every tunnel goes to ``server.target``, whatever the name asked."""

    def do_CONNECT(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        upstream = socket.create_connection(self.server.target)  # type: ignore[attr-defined]
        self.send_response(200, "Connection established")
        self.end_headers()
        sockets = [self.connection, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 5)
                if not readable:
                    return
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    (upstream if source is self.connection else self.connection).sendall(data)
        finally:
            upstream.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def test_https_goes_through_https_proxy_with_connect(
    https_server: Server, ca: trustme.CA, proxy_env: pytest.MonkeyPatch
) -> None:
    proxy = Quiet(("127.0.0.1", 0), _Tunnel)
    proxy.seen = []  # type: ignore[attr-defined]
    proxy.target = https_server.server.server_address[:2]  # type: ignore[attr-defined]
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    proxy_env.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    ds = settings(
        "https://upstream.test",
        {"tlsAuthWithCACert": True},
        {"tlsCACert": ca.cert_pem.bytes().decode()},
    )
    try:
        async with http_client(ds) as client:
            seen = await get(client, "/through")
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(5)

    assert seen["path"] == "/through"  # TLS to upstream.test, end to end through the tunnel
    assert proxy.seen == ["upstream.test:443"]  # type: ignore[attr-defined]


async def test_a_verify_option_still_wins_over_the_settings(
    https_server: Server, ca: trustme.CA
) -> None:
    # Since the proxy router builds the transports, httpx ignored verify= silently (it applies
    # it only to a transport it builds itself): options are documented to win.
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with http_client(settings(https_server.url), verify=trusting) as client:
        assert (await get(client))["path"] == "/x"
    async with http_client(settings(https_server.url), verify=False) as client:
        assert (await get(client))["path"] == "/x"


async def test_a_unix_socket_option_reaches_the_transport(tmp_path: Path) -> None:
    # uds= configures a transport: httpx dropped it beside the proxy router's.
    class UnixServer(socketserver.ThreadingUnixStreamServer):
        daemon_threads = True

        def get_request(self) -> tuple[Any, Any]:
            connection, _ = self.socket.accept()
            return connection, ("unix", 0)  # BaseHTTPRequestHandler wants a host

    path = str(tmp_path / "u.sock")  # short: sun_path holds 108 bytes
    server = UnixServer(path, Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        async with http_client(settings("http://upstream.invalid"), uds=path) as client:
            seen = await get(client, "/via-socket")
    finally:
        server.shutdown()
        server.server_close()
    assert (seen["path"], seen["address"]) == ("/via-socket", "unix")
