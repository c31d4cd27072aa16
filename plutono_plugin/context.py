"""What the host tells a handler about the call: who asks, for which datasource or app, with what.

Plutono fills ``pluginContext`` per call (contract 2.4.1, 2.4.4): the org, the plugin id, the
signed-in user (absent for alerting and expressions), and the settings of the datasource
(``/api/datasources/...``, queries) or of the app (``/api/plugins/...``). The framework turns it
into these frozen, typed objects; :class:`RequestContext` adds the request headers, the process
settings and the per-datasource instance.

Secrets never leak by accident: :class:`Secrets` shows its keys but never its values in
``repr``/``str``, so logging a context is safe.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from types import MappingProxyType
from typing import Any, Final

from ._headers import SecretValue, is_secret_header, redact_secret_values
from .errors import ConfigurationError
from .settings import Settings

__all__ = (
    "AppSettings",
    "DataSourceSettings",
    "NO_INSTANCE",
    "NoInstance",
    "PluginContext",
    "RequestContext",
    "Secrets",
    "User",
)


class Secrets(Mapping[str, str]):
    """Decrypted ``secureJsonData``: a read-only mapping whose values never appear in its repr.

    ``values`` maps each secure key (``apiKey``, ``basicAuthPassword``, a typed option's
    ``Secret`` field in camelCase) to its decrypted text. Read it like a dict:
    ``secrets["apiKey"]``, ``secrets.get("apiKey", "")``, ``"apiKey" in secrets``.

    Example::

        secrets = Secrets({"apiKey": "s3cr3t"})
        assert secrets["apiKey"] == "s3cr3t"
        assert "s3cr3t" not in repr(secrets)  # Secrets(apiKey=<redacted>)
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: Mapping[str, str] = MappingProxyType(dict(values or {}))

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{key}=<redacted>" for key in sorted(self._values))
        return f"Secrets({inner})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secrets):
            return dict(self._values) == dict(other._values)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._values.items()))


class _LongInteger(str):
    """An integer literal too long to convert, kept as text to find where it is."""


def _long_integer_text(raw: bytes) -> str:
    """Name the field of ``jsonData`` whose integer has more digits than Python converts."""
    limit = sys.get_int_max_str_digits()

    def parse_int(text: str) -> int | _LongInteger:
        return _LongInteger(text) if len(text.lstrip("-")) > limit > 0 else int(text)

    try:
        value: object = json.loads(raw, parse_int=parse_int)
    except (ValueError, RecursionError) as error:
        return f"jsonData is not valid JSON ({error})"
    stack: list[tuple[str, object]] = [("jsonData", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, _LongInteger):
            return (
                f"{where} is an integer of {len(item.lstrip('-'))} digits; at most {limit} "
                "are accepted"
            )
        if isinstance(item, dict):
            stack.extend((f"{where}.{key}", child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((f"{where}[{index}]", child) for index, child in enumerate(item))
    return "jsonData holds an integer too long to convert"


def _parse_json_data(raw: bytes, owner: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigurationError(f"{owner}: jsonData is not valid JSON ({error})") from None
    except RecursionError:
        raise ConfigurationError(f"{owner}: jsonData is nested too deeply") from None
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        raise ConfigurationError(f"{owner}: {_long_integer_text(raw)}") from None
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"{owner}: jsonData must be a JSON object, got {type(value).__name__}"
        )
    return value


@dataclass(frozen=True, slots=True)
class User:
    """The signed-in Plutono user; ``role`` is ``Viewer``, ``Editor`` or ``Admin``."""

    login: str
    """The login name (unique in the Plutono instance)."""
    name: str = ""
    """The display name."""
    email: str = ""
    """The e-mail address."""
    role: str = ""
    """The role in the calling organisation: ``Viewer``, ``Editor`` or ``Admin``."""


@dataclass(frozen=True)
class DataSourceSettings:
    """A datasource's configuration as Plutono sends it (contract 2.4.1).

    ``uid`` is never set by Plutono 7.5; key caches on ``id``. ``updated`` is ``None`` when the
    host sends no usable time (a zero or negative ``lastUpdatedMS``, contract 2.4.4).
    """

    id: int
    """The datasource's numeric id (the key of per-datasource state)."""
    name: str = ""
    """The name users pick it by."""
    url: str = ""
    """Plutono's built-in URL setting (``access: proxy`` datasources)."""
    user: str = ""
    """The built-in user setting (databases)."""
    database: str = ""
    """The built-in database setting."""
    basic_auth_enabled: bool = False
    """True when the built-in "Basic auth" switch is on."""
    basic_auth_user: str = ""
    """The basic-auth user (its password is ``basicAuthPassword`` in the secrets)."""
    raw_json_data: bytes = b""
    """``jsonData`` as sent (UTF-8 JSON); :attr:`json_data` parses it."""
    decrypted_secure_json_data: Secrets = field(default_factory=Secrets)
    """``secureJsonData``, decrypted by Plutono (API keys, passwords)."""
    last_updated_ms: int = 0
    """When the settings were last saved, epoch milliseconds (a new value: new settings)."""
    updated: datetime | None = None
    """``last_updated_ms`` as an aware datetime, ``None`` when the host sends no usable time."""
    uid: str = ""
    """The datasource's uid (never set by Plutono 7.5)."""

    @cached_property
    def json_data(self) -> dict[str, Any]:
        """``jsonData`` parsed; :class:`ConfigurationError` naming the datasource if invalid."""
        return _parse_json_data(self.raw_json_data, f"datasource {self.name!r} (id {self.id})")


@dataclass(frozen=True)
class AppSettings:
    """An app plugin's per-org settings (contract 2.4.4: always present on app routes)."""

    raw_json_data: bytes = b""
    """The app's ``jsonData`` as sent (UTF-8 JSON); :attr:`json_data` parses it."""
    decrypted_secure_json_data: Secrets = field(default_factory=Secrets)
    """The app's ``secureJsonData``, decrypted by Plutono."""
    last_updated_ms: int = 0
    """When the settings were last saved, epoch milliseconds."""
    updated: datetime | None = None
    """``last_updated_ms`` as an aware datetime, ``None`` when unset."""

    @cached_property
    def json_data(self) -> dict[str, Any]:
        """``jsonData`` parsed (``{}`` when empty); :class:`ConfigurationError` if invalid."""
        return _parse_json_data(self.raw_json_data, "app settings")


@dataclass(frozen=True, slots=True)
class PluginContext:
    """Who is calling and for which datasource/app (``pluginContext`` of every request)."""

    org_id: int = 0
    """The organisation the call is made in."""
    plugin_id: str = ""
    """The plugin's id from ``plugin.json``."""
    user: User | None = None
    """The signed-in user; ``None`` for alerting and expressions."""
    datasource: DataSourceSettings | None = None
    """The datasource's settings, for calls to a datasource."""
    app: AppSettings | None = None
    """The app's settings, for calls to an app plugin."""


class NoInstance:
    """``context.instance`` of a plugin without an ``@plugin.instance`` factory.

    Falsy, and any attribute read raises an ``AttributeError`` that says how to register a
    factory, instead of the bare "'NoneType' object has no attribute" of a plain ``None``.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"context.instance.{name}: this plugin registers no instance factory, so "
            "context.instance holds nothing. Register one that builds the per-datasource "
            "object:\n\n    @plugin.instance\n    async def client(settings: DataSourceSettings)"
            " -> Client:\n        return Client(settings.url)\n\n(docs/instances.md)"
        )

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<no instance: the plugin registers no @plugin.instance factory>"


NO_INSTANCE: Final = NoInstance()
"""What ``context.instance`` holds when the plugin registers no ``@plugin.instance`` factory."""


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Everything a handler may need beyond its own input.

    ``instance`` is what the plugin's ``@plugin.instance`` factory built for this datasource (or
    app); ``None`` when the call has no settings the factory takes, and :data:`NO_INSTANCE`
    (falsy; reading an attribute explains how to register a factory) when the plugin
    registers no factory.
    ``options`` is the datasource's typed settings when the plugin declares
    ``Plugin(options=...)`` (see :mod:`plutono_plugin.options`), else ``None``. Credential
    header values (the user's ``Authorization``, ``X-Id-Token``, cookies) are
    :class:`~plutono_plugin._headers.SecretValue`: usable as text, hidden when logged.
    """

    plugin: PluginContext = field(default_factory=PluginContext)
    """Who calls, for which datasource or app."""
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """The call's headers (``FromAlert``, forwarded OAuth ``Authorization``, cookies)."""
    settings: Settings = field(default_factory=Settings)
    """The process settings (``[plugin.<id>]`` ini section, host version)."""
    instance: Any = None
    """What the ``@plugin.instance`` factory built (see the class docstring)."""
    options: Any = None
    """The datasource's typed settings, with ``Plugin(options=...)``."""

    def __post_init__(self) -> None:
        # Headers may carry the user's OAuth token (oauthPassThru, contract 2.4.1): its value
        # stays usable but hides from %s, %r, dict() and the log formatter.
        headers = self.headers
        if any(
            is_secret_header(name) and type(value) is not SecretValue
            for name, value in headers.items()
        ):
            redacted = dict(redact_secret_values(headers.items()))
            object.__setattr__(self, "headers", MappingProxyType(redacted))

    def __repr__(self) -> str:
        # Headers may carry the user's OAuth token (oauthPassThru, contract 2.4.1).
        headers = {
            name: "<redacted>" if is_secret_header(name) else value
            for name, value in self.headers.items()
        }
        return (
            f"RequestContext(plugin={self.plugin!r}, headers={headers!r}, "
            f"settings={self.settings!r}, instance={self.instance!r}, options={self.options!r})"
        )

    @property
    def user(self) -> User | None:
        """The signed-in user, ``None`` for alerting and expressions."""
        return self.plugin.user

    @property
    def datasource(self) -> DataSourceSettings | None:
        """The datasource's settings, if the call is for a datasource."""
        return self.plugin.datasource

    @property
    def from_alert(self) -> bool:
        """True when the alert engine asks (header ``FromAlert: true``, contract 2.4.2)."""
        return self.headers.get("FromAlert") == "true"
