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

    The fields follow Plutono's own HTTP section: URL and timeout; "Basic auth", "TLS Client
    Auth" and "With CA Cert" switches, each showing its fields only when on; ServerName, "Skip
    TLS Verify", "Forward OAuth Identity" and custom headers. What a switch hides is not used
    while it is off.

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
    basic_auth: bool = field(default=False, metadata={"label": "Basic auth", "order": _ORDER})
    """Send HTTP basic auth (user and password below)."""
    basic_auth_user: str = field(
        default="", metadata={"label": "User", "order": _ORDER, "show_when": {"basic_auth": True}}
    )
    """User for HTTP basic auth."""
    basic_auth_password: Secret | None = field(
        default=None,
        metadata={"label": "Password", "order": _ORDER, "show_when": {"basic_auth": True}},
    )
    """Password for HTTP basic auth."""
    tls_client_auth: bool = field(
        default=False, metadata={"label": "TLS Client Auth", "order": _ORDER}
    )
    """Present a client certificate (mutual TLS)."""
    tls_client_cert: str = field(
        default="",
        metadata={
            "label": "Client Cert",
            "kind": "multiline",
            "order": _ORDER,
            "show_when": {"tls_client_auth": True},
        },
    )
    """PEM of the client certificate."""
    tls_client_key: Secret | None = field(
        default=None,
        metadata={"label": "Client Key", "order": _ORDER, "show_when": {"tls_client_auth": True}},
    )
    """PEM of the client certificate's key."""
    tls_with_ca_cert: bool = field(
        default=False, metadata={"label": "With CA Cert", "order": _ORDER}
    )
    """Trust only the CA below instead of the system's."""
    tls_ca_cert: str = field(
        default="",
        metadata={
            "label": "CA Cert",
            "kind": "multiline",
            "order": _ORDER,
            "show_when": {"tls_with_ca_cert": True},
        },
    )
    """PEM of the CA to trust."""
    server_name: str = field(default="", metadata={"label": "ServerName", "order": _ORDER})
    """Name to verify the server's certificate against, when not the URL's host."""
    tls_skip_verify: bool = field(
        default=False, metadata={"label": "Skip TLS Verify", "order": _ORDER}
    )
    """Accept any server certificate (only for testing)."""
    oauth_pass_thru: bool = field(
        default=False, metadata={"label": "Forward OAuth Identity", "order": _ORDER}
    )
    """Forward the signed-in user's token: saved as ``jsonData.oauthPassThru``, the key
    :func:`~plutono_plugin.http.forward_headers` and Plutono read."""
    headers: dict[str, str] = field(
        default_factory=dict, metadata={"label": "Custom HTTP Headers", "order": _ORDER}
    )
    """Headers sent with every request, as a JSON object (visible in ``jsonData``: put
    credentials in a ``secret_header`` field instead)."""

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
