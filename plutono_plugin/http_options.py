"""Typed HTTP settings: what an HTTP datasource's settings page edits and its client uses.

Plutono's built-in ``url`` and ``httpHeaderName<N>`` keys (read by
:func:`~plutono_plugin.http.http_client` from the raw settings) are written by Plutono's own
HTTP settings component, which the generated settings page does not show. A plugin with typed
settings subclasses :class:`HTTPOptions` instead: its fields (URL, timeout, basic auth, TLS,
custom headers) appear on the generated page like any other option, and ``http_client(options)``
builds the client from them, without further arguments::

    from dataclasses import dataclass

    from plutono_plugin import Plugin, Secret
    from plutono_plugin.http import http_client
    from plutono_plugin.http_options import HTTPOptions, secret_header

    @dataclass
    class Options(HTTPOptions):
        api_key: Secret | None = secret_header("X-API-Key")
        '''Sent as the X-API-Key header of every request.'''
        city: str = "berlin"

    plugin = Plugin(options=Options)

    @plugin.instance
    async def api(options: Options) -> AsyncIterator[httpx.AsyncClient]:
        async with http_client(options) as client:
            yield client

:func:`secret_header` maps a :class:`~plutono_plugin.options.Secret` field to a request header
declaratively (``prefix="Bearer "`` for ``Authorization``); it is short for
``field(default=None, metadata={"header": "X-API-Key", "header_prefix": ""})``, which linters
that flag calls in dataclass defaults (ruff's RUF009) accept as it is; the secret never appears in
``jsonData`` or a ``repr``. Fields a subclass adds need defaults (dataclass inheritance).
Importing this module does not need httpx; ``HTTPSettings.from_options`` in
:mod:`plutono_plugin.http` turns the options into client settings and checks them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ._headers import is_header_name
from .options import Secret

__all__ = ("HTTPOptions", "secret_header")

_ORDER = -100.0  # the HTTP fields first on the settings page, then the plugin's own


def secret_header(header: str, *, prefix: str = "", label: str = "") -> Any:
    """A ``Secret | None`` dataclass field whose value is sent as request header ``header``.

    ``prefix`` goes before the value (``"Bearer "`` for ``Authorization``); ``label`` is the
    settings page's label (default: from the field's name). Use it as the field's default::

        api_key: Secret | None = secret_header("Authorization", prefix="Bearer ")
    """
    if not is_header_name(header):
        raise ValueError(f"secret_header: {header!r} is not an HTTP header name")
    metadata: dict[str, Any] = {"header": header, "header_prefix": prefix}
    if label:
        metadata["label"] = label
    return field(default=None, metadata=metadata)


@dataclass
class HTTPOptions:
    """The HTTP part of a datasource's typed settings; subclass it to add the plugin's own.

    Example::

        @dataclass
        class Options(HTTPOptions):
            token: Secret | None = secret_header("Authorization", prefix="Bearer ")

        options = Options(url="https://api.example.com", token=Secret("t0k"))
        assert options.headers_to_send() == {"Authorization": "Bearer t0k"}
    """

    url: str = field(default="", metadata={"label": "URL", "order": _ORDER})
    """Base URL of the upstream API (``http://`` or ``https://``)."""
    timeout_s: float = field(default=30.0, metadata={"label": "Timeout (s)", "order": _ORDER})
    """Seconds a request may take before it fails."""
    basic_auth_user: str = field(default="", metadata={"order": _ORDER})
    """User for HTTP basic auth (empty: no basic auth)."""
    basic_auth_password: Secret | None = field(default=None, metadata={"order": _ORDER})
    """Password for HTTP basic auth."""
    headers: dict[str, str] = field(
        default_factory=dict, metadata={"label": "Custom headers", "order": _ORDER}
    )
    """Headers sent with every request, as a JSON object (visible in ``jsonData``: put
    credentials in a ``secret_header`` field instead)."""
    tls_skip_verify: bool = field(
        default=False, metadata={"label": "Skip TLS verify", "order": _ORDER}
    )
    """Accept any server certificate (only for testing)."""
    tls_ca_cert: str = field(default="", metadata={"label": "TLS CA certificate", "order": _ORDER})
    """PEM of the CA to trust instead of the system's."""
    tls_client_cert: str = field(
        default="", metadata={"label": "TLS client certificate", "order": _ORDER}
    )
    """PEM of a client certificate (mutual TLS), with ``tls_client_key``."""
    tls_client_key: Secret | None = field(
        default=None, metadata={"label": "TLS client key", "order": _ORDER}
    )
    """PEM of the client certificate's key."""
    server_name: str = field(default="", metadata={"label": "TLS server name", "order": _ORDER})
    """Name to verify the server's certificate against, when not the URL's host."""

    def headers_to_send(self) -> dict[str, str]:
        """The ``headers`` field plus every :func:`secret_header` field that has a value."""
        headers = dict(self.headers)
        for item in dataclasses.fields(self):
            header = item.metadata.get("header")
            value = getattr(self, item.name)
            if header and value is not None:
                text = value.value if isinstance(value, Secret) else str(value)
                headers[header] = str(item.metadata.get("header_prefix", "")) + text
        return headers
