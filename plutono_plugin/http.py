"""An HTTP client built from a datasource's settings, the way Plutono's own proxy builds one.

Plutono 7.5's HTTP settings UI (``DataSourceHttpSettings``: basic auth, TLS, custom headers,
forward OAuth identity) stores its choices in the datasource's ``jsonData`` and
``secureJsonData``; Plutono's data proxy reads them back in ``pkg/models/datasource_cache.go``
(``GetTLSConfig``, ``getCustomHeaders``). :class:`HTTPSettings` reads the same keys, and
:func:`http_client` turns them into an ``httpx.AsyncClient``:

=========================================  =======================================================
setting (where Plutono stores it)          client
=========================================  =======================================================
``url``                                    ``base_url``
``basicAuth`` + ``basicAuthUser``,         HTTP basic auth
secure ``basicAuthPassword``
``jsonData.httpHeaderName<N>``,            header ``<name>: <value>`` on every request
secure ``httpHeaderValue<N>`` (N = 1, 2…)  (numbering stops at the first missing name)
``jsonData.tlsSkipVerify``                 no certificate verification
``jsonData.tlsAuthWithCACert``,            trust only this CA (PEM), instead of the system's
secure ``tlsCACert``
``jsonData.tlsAuth``, secure               client certificate (mutual TLS)
``tlsClientCert`` + ``tlsClientKey``
``jsonData.serverName``                    TLS server name (SNI and verification)
``jsonData.timeout`` (seconds)             timeout per request; default 30 s, Plutono's
                                           ``[dataproxy] timeout`` (the 7.5 UI has no field for it)
``jsonData.oauthPassThru``                 :func:`forward_headers` passes the user's
                                           ``Authorization`` on (contract 2.4.1)
environment ``HTTP(S)_PROXY``, ``NO_PROXY``  proxy, as Go's ``http.ProxyFromEnvironment``: never
                                           for loopback, ``NO_PROXY`` honoured
                                           (:mod:`plutono_plugin._proxy`)
=========================================  =======================================================

Like Plutono's proxy, the client keeps **no cookies**: a ``Set-Cookie`` from the upstream is
never sent again, so one user's upstream session cannot leak into another user's request or an
alert query. The caller's identity travels per call only (:func:`forward_headers`).
Certificates are loaded only for ``https://`` requests, and the system's CA store once per
process (a datasource with its own CA loads only that one).

httpx is an optional dependency: ``pip install plutono-plugin[http]``.

Build the client once per datasource in an instance factory; it is closed when the instance is
disposed (settings changed, or shutdown)::

    from plutono_plugin.http import forward_headers, http_client

    @plugin.instance
    async def api(settings: DataSourceSettings) -> AsyncIterator[httpx.AsyncClient]:
        async with http_client(settings) as client:
            yield client

    @plugin.query("")
    async def query(query: Query, context: RequestContext) -> Frame:
        response = await context.instance.get("/api/v1/data", headers=forward_headers(context))
        ...

The user's token differs per request, so it is not baked into the cached client:
:func:`forward_headers` gives the headers to add for the current call.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import ssl
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

from ._headers import is_header_name
from ._proxy import EnvironmentProxies
from .context import DataSourceSettings, RequestContext
from .errors import ConfigurationError
from .http_options import HTTPOptions

try:
    import httpx
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        "plutono_plugin.http needs httpx: pip install 'plutono-plugin[http]'"
    ) from error

__all__ = (
    "DEFAULT_TIMEOUT",
    "HTTPSettings",
    "forward_headers",
    "http_client",
    "system_ssl_context",
)

DEFAULT_TIMEOUT = 30.0
"""Seconds per request when ``jsonData.timeout`` is absent: Plutono's ``[dataproxy] timeout``."""


def _flag(json_data: Mapping[str, Any], key: str, owner: str) -> bool:
    value = json_data.get(key, False)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"  # simplejson's MustBool accepts these too
    if not isinstance(value, bool):
        raise ConfigurationError(f"{owner}: jsonData.{key} must be true or false, got {value!r}")
    return value


@dataclass(frozen=True)
class HTTPSettings:
    """The HTTP options of a datasource, read from the keys Plutono's settings UI writes.

    Secrets stay out of ``repr``. Build with :meth:`from_datasource`.
    """

    url: str = ""
    """The datasource's URL, the client's ``base_url``."""
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    """``(user, password)`` for HTTP basic auth; ``None`` when the switch is off."""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Custom headers sent on every request (``httpHeaderName<N>``/``httpHeaderValue<N>``)."""
    oauth_pass_through: bool = False
    """True when the datasource forwards the user's OAuth identity (``oauthPassThru``)."""
    tls_skip_verify: bool = False
    """True: no verification of the server's certificate (``tlsSkipVerify``)."""
    tls_ca_cert: str = field(default="", repr=False)
    """The PEM CA certificate to trust instead of the system's; empty: the system's."""
    tls_client_cert: str = field(default="", repr=False)
    """The PEM client certificate for mutual TLS; empty: none."""
    tls_client_key: str = field(default="", repr=False)
    """The PEM key of ``tls_client_cert``."""
    server_name: str = ""
    """The TLS server name for SNI and verification (``serverName``); empty: the URL's host."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds per request (``jsonData.timeout``; default 30, Plutono's data proxy timeout)."""

    @classmethod
    def from_datasource(cls, settings: DataSourceSettings) -> HTTPSettings:
        """Read the settings; :class:`ConfigurationError` names a key with a bad value."""
        owner = f"datasource {settings.name!r} (id {settings.id})"
        json_data = settings.json_data
        secrets = settings.decrypted_secure_json_data
        headers: dict[str, str] = {}
        number = 1
        while name := json_data.get(f"httpHeaderName{number}"):
            if not isinstance(name, str) or not is_header_name(name):
                raise ConfigurationError(
                    f"{owner}: jsonData.httpHeaderName{number} must be a header name, got {name!r}"
                )
            if f"httpHeaderValue{number}" in secrets:
                value = secrets[f"httpHeaderValue{number}"]
                if any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in value):
                    # Go's transport refuses such a value (httpguts.ValidHeaderFieldValue)
                    raise ConfigurationError(
                        f"{owner}: secure httpHeaderValue{number} contains a line break or "
                        "another control character"
                    )
                headers[name] = value
            number += 1
        timeout = json_data.get("timeout", DEFAULT_TIMEOUT)
        try:
            seconds = float(timeout) if not isinstance(timeout, bool) else -1.0
        except (TypeError, ValueError, OverflowError):
            seconds = -1.0
        if not (seconds > 0 and math.isfinite(seconds)):  # "1e309" is inf: no timeout at all
            raise ConfigurationError(
                f"{owner}: jsonData.timeout must be a positive, finite number of seconds, "
                f"got {timeout!r}"
            )
        with_ca = _flag(json_data, "tlsAuthWithCACert", owner)
        client_auth = _flag(json_data, "tlsAuth", owner)
        if client_auth and not (secrets.get("tlsClientCert") and secrets.get("tlsClientKey")):
            raise ConfigurationError(
                f"{owner}: TLS client auth is on but tlsClientCert or tlsClientKey is empty"
            )
        server_name = json_data.get("serverName", "")
        if not isinstance(server_name, str):
            raise ConfigurationError(f"{owner}: jsonData.serverName must be text")
        basic_auth = None
        if settings.basic_auth_enabled:
            basic_auth = (settings.basic_auth_user, secrets.get("basicAuthPassword", ""))
        return cls(
            url=settings.url,
            basic_auth=basic_auth,
            headers=headers,
            oauth_pass_through=_flag(json_data, "oauthPassThru", owner),
            tls_skip_verify=_flag(json_data, "tlsSkipVerify", owner),
            tls_ca_cert=secrets.get("tlsCACert", "") if with_ca else "",
            tls_client_cert=secrets.get("tlsClientCert", "") if client_auth else "",
            tls_client_key=secrets.get("tlsClientKey", "") if client_auth else "",
            server_name=server_name,
            timeout=seconds,
        )

    @classmethod
    def from_options(cls, options: HTTPOptions) -> HTTPSettings:
        """Client settings from typed options; :class:`ConfigurationError` names a bad field."""
        if options.url and not options.url.lower().startswith(("http://", "https://")):
            raise ConfigurationError(f"url {options.url!r} must start with http:// or https://")
        if not (options.timeout_s > 0 and math.isfinite(options.timeout_s)):
            raise ConfigurationError(
                f"timeout_s must be a positive number, got {options.timeout_s}"
            )
        headers = options.headers_to_send()
        for name, value in headers.items():
            if not isinstance(name, str) or not is_header_name(name):
                raise ConfigurationError(f"headers: {name!r} is not an HTTP header name")
            if not isinstance(value, str) or any(
                (ord(char) < 32 and char != "\t") or ord(char) == 127 for char in value
            ):
                raise ConfigurationError(f"headers: the value of {name!r} has a control character")
        client_auth = options.tls_client_auth
        if client_auth and not (options.tls_client_cert and options.tls_client_key):
            raise ConfigurationError("TLS client auth is on but the client cert or key is empty")
        password = options.basic_auth_password.value if options.basic_auth_password else ""
        key = options.tls_client_key.value if options.tls_client_key and client_auth else ""
        return cls(
            url=options.url,
            basic_auth=(options.basic_auth_user, password) if options.basic_auth else None,
            headers=headers,
            tls_skip_verify=options.tls_skip_verify,
            tls_ca_cert=options.tls_ca_cert if options.tls_with_ca_cert else "",
            tls_client_cert=options.tls_client_cert if client_auth else "",
            tls_client_key=key,
            server_name=options.server_name,
            timeout=options.timeout_s,
        )

    @property
    def has_tls_material(self) -> bool:
        """Whether the datasource brings its own CA or client certificate."""
        return bool(self.tls_ca_cert or self.tls_client_cert)

    def ssl_context(self, owner: str = "datasource") -> ssl.SSLContext:
        """The TLS context: the CA (or the system's), the client certificate, verification.

        ``owner`` names the datasource in the :class:`ConfigurationError` raised for bad
        certificates or keys.

        Without a CA or client certificate of its own, every datasource shares one context per
        process (the system's CA store is read once; skipping verification reads none).
        """
        if not self.tls_client_cert:
            if self.tls_skip_verify:
                return _unverified_context()
            if not self.tls_ca_cert:
                return system_ssl_context()
        try:
            if self.tls_skip_verify:
                context = _unverified_context(shared=False)
            elif self.tls_ca_cert:
                context = ssl.create_default_context(cadata=self.tls_ca_cert)
            else:
                context = ssl.create_default_context()
        except (ssl.SSLError, ValueError) as error:
            raise ConfigurationError(
                f"{owner}: tlsCACert is not a PEM certificate: {error}"
            ) from None
        if self.tls_client_cert:
            with _pem_files(self.tls_client_cert, self.tls_client_key) as (cert, key):
                try:
                    context.load_cert_chain(cert, key)
                except ssl.SSLError as error:
                    raise ConfigurationError(
                        f"{owner}: tlsClientCert/tlsClientKey are not a matching PEM "
                        f"certificate and key: {error}"
                    ) from None
        return context


@functools.cache
def system_ssl_context() -> ssl.SSLContext:
    """The verifying TLS context with the system's CA store, built once per process.

    Loading the store costs about 0.85 MB and 80 ms; shared contexts are never modified.
    """
    return ssl.create_default_context()


def _unverified_context(shared: bool = True) -> ssl.SSLContext:
    """A context that verifies nothing (``tlsSkipVerify``): it loads no CA at all."""
    if shared:
        return _SHARED_UNVERIFIED
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_SHARED_UNVERIFIED = _unverified_context(shared=False)
# For plain-http requests: httpx wants a context per transport; this one is never used for TLS.
_PLAIN = _unverified_context(shared=False)


class _ProxyRouter(httpx.AsyncBaseTransport):
    """Sends each request directly or through the proxy Go's rules pick for its URL.

    One httpx transport per (proxy, TLS or not), made on first use, so a datasource that only
    speaks ``http://`` never builds a TLS context.
    """

    def __init__(
        self,
        proxies: EnvironmentProxies,
        tls: Callable[[], ssl.SSLContext | bool | str],
        options: Mapping[str, Any],
    ) -> None:
        self._proxies = proxies
        self._tls = tls
        self._options = dict(options)
        self._transports: dict[tuple[str, bool], httpx.AsyncHTTPTransport] = {}

    def _transport(self, proxy: str, secure: bool) -> httpx.AsyncHTTPTransport:
        transport = self._transports.get((proxy, secure))
        if transport is None:
            proxy_option = None
            if proxy:  # the proxy's own certificate is checked against the system's CAs
                tls = system_ssl_context() if proxy.startswith("https:") else None
                proxy_option = httpx.Proxy(proxy, ssl_context=tls)
            transport = httpx.AsyncHTTPTransport(
                verify=self._tls() if secure else _PLAIN,
                proxy=proxy_option,
                trust_env=False,
                **self._options,
            )
            self._transports[(proxy, secure)] = transport
        return transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Route ``request`` (its proxy is decided from its own URL)."""
        proxy = self._proxies.proxy_for(str(request.url))
        transport = self._transport(proxy, request.url.scheme == "https")
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Close every transport made."""
        transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            await transport.aclose()


# http_client options that configure connections: httpx applies them only to transports it
# builds itself, so they go to each transport the router makes. Not cert=: httpx would load
# the certificate into the TLS context, which may be the one every datasource shares.
_TRANSPORT_OPTIONS = (
    "http1",
    "http2",
    "limits",
    "retries",
    "local_address",
    "socket_options",
    "uds",
)


def _no_cookies() -> CookieJar:
    """A jar that refuses every cookie: nothing an upstream sets is sent with a later call."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@contextlib.contextmanager
def _pem_files(*texts: str) -> Iterator[list[str]]:
    """Write PEM texts to private temporary files (ssl loads chains from files only)."""
    with tempfile.TemporaryDirectory(prefix="plutono-tls-") as folder:
        paths = []
        for number, text in enumerate(texts):
            path = os.path.join(folder, f"{number}.pem")
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            paths.append(path)
        yield paths


def http_client(
    settings: DataSourceSettings | HTTPSettings | HTTPOptions, **options: Any
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` configured from the datasource's settings (module docs).

    ``settings`` is the raw :class:`~plutono_plugin.context.DataSourceSettings` (Plutono's own
    HTTP keys), an :class:`HTTPSettings`, or typed options deriving from
    :class:`~plutono_plugin.http_options.HTTPOptions` (URL, auth, TLS and headers, secret
    headers included, come from their fields).

    ``options`` go to ``httpx.AsyncClient`` and win over the settings (e.g. ``timeout=``,
    ``headers=``, ``verify=``, ``transport=``; a ``transport`` of your own replaces the proxy
    rules and the TLS settings). Raises :class:`ConfigurationError` for bad TLS material or
    values. The client keeps no cookies between requests. Use it as an async context manager,
    or ``await client.aclose()``.

    Example::

        async with http_client(settings) as client:
            response = await client.get("/api/health")
    """
    owner = "datasource"
    if isinstance(settings, HTTPOptions):
        settings = HTTPSettings.from_options(settings)
    if isinstance(settings, DataSourceSettings):
        owner = f"datasource {settings.name!r} (id {settings.id})"
        settings = HTTPSettings.from_datasource(settings)
    hooks: dict[str, list[Any]] = {"request": [], "response": []}
    if settings.server_name:
        server_name = settings.server_name

        async def set_server_name(request: httpx.Request) -> None:
            request.extensions["sni_hostname"] = server_name

        hooks["request"].append(set_server_name)
    http_settings = settings
    tls: ssl.SSLContext | None = None
    if settings.has_tls_material or settings.url.lower().startswith("https:"):
        tls = settings.ssl_context(owner)  # bad TLS material fails now, naming the key

    # httpx applies verify= only to a transport it builds itself: the router takes it over.
    verify: ssl.SSLContext | bool | str | None = options.pop("verify", None)

    def tls_context() -> ssl.SSLContext | bool | str:
        if verify is not None:
            return verify
        return tls if tls is not None else http_settings.ssl_context(owner)

    arguments: dict[str, Any] = {
        "base_url": settings.url,
        "auth": httpx.BasicAuth(*settings.basic_auth) if settings.basic_auth else None,
        # Go sends a value's UTF-8 bytes as they are; httpx would refuse non-ASCII text
        "headers": {name: value.encode() for name, value in settings.headers.items()},
        "timeout": settings.timeout,
        "trust_env": False,  # proxies: Go's rules below; no netrc, no ALL_PROXY
        "transport": _ProxyRouter(
            EnvironmentProxies.from_environment(),
            tls_context,
            {key: options.pop(key) for key in _TRANSPORT_OPTIONS if key in options},
        ),
        "cookies": _no_cookies(),  # Plutono's data proxy keeps no cookie jar either
        "event_hooks": hooks,
    }
    if options.get("headers") is not None:
        arguments["headers"] = {**arguments["headers"], **dict(options.pop("headers"))}
    arguments.update(options)
    return httpx.AsyncClient(**arguments)


def forward_headers(context: RequestContext) -> dict[str, str]:
    """Headers to add for the call of ``context``: the user's ``Authorization``, if forwarded.

    Only when the datasource's ``oauthPassThru`` is on.

    Plutono sends the signed-in user's OAuth token as the request's ``Authorization`` header
    when the datasource forwards OAuth identity (contract 2.4.1); alert queries have no user
    and get ``{}``.
    """
    datasource = context.datasource
    if datasource is None or not _flag(
        datasource.json_data, "oauthPassThru", f"datasource {datasource.name!r}"
    ):
        return {}
    for name, value in context.headers.items():
        if name.lower() == "authorization" and value:
            return {"Authorization": value}
    return {}
