"""Typed datasource settings: ``jsonData`` and ``secureJsonData`` decoded into a declared model.

A plugin declares what its datasource's configuration page holds as a dataclass (or pydantic
model) and passes it as ``Plugin(options=...)``. Fields annotated :class:`Secret` live in
``secureJsonData`` (Plutono stores them encrypted and never sends them back to the browser);
every other field lives in ``jsonData`` (contract 2.4.1: both arrive with every call as
``dataSourceInstanceSettings``). The generated frontend (``plutono-plugin build``) renders one
input per field::

    @dataclass
    class Options:
        url: str
        '''Base URL of the upstream API.'''
        timeout_s: float = 5.0
        api_key: Secret | None = None

    plugin = Plugin(options=Options)

    @plugin.query("items")
    async def items(query: Query, options: Options) -> Frame: ...

The framework decodes the options once per datasource version (``id``, ``lastUpdatedMS`` and a
fingerprint of the settings, like instances, contract 5.7), forgets them when the datasource
has not been used for ``instance_idle_timeout``, and passes them to every handler and
instance factory parameter annotated with the declared type (also as
``RequestContext.options``). Settings that do not fit
the model fail every call of that datasource with an
:class:`~plutono_plugin.errors.OptionsError` naming the field:
"Save & Test" shows it (health ERROR) and each query answers it for its refId.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._model import ModelError, decode_model, is_model_type, model_fields, unwrap_optional
from .context import DataSourceSettings
from .errors import ConfigurationError, OptionsError
from .instances import settings_fingerprint

__all__ = ("OptionsDecoder", "Secret", "decode_options", "is_secret")


class Secret:
    """A value kept in ``secureJsonData``; its repr never shows it.

    Example::

        key = Secret("s3cr3t")
        assert key.value == "s3cr3t" and "s3cr3t" not in repr(key)  # Secret(<redacted>)
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds a string, not {type(value).__name__}")
        self._value = value

    @property
    def value(self) -> str:
        """The decrypted value."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic models declare ``Secret`` fields (a string or a Secret is accepted)."""
        from pydantic_core import core_schema

        def validate(value: object) -> Secret:
            return value if isinstance(value, Secret) else cls(str(value))

        return core_schema.no_info_plain_validator_function(validate)


def is_secret(annotation: object) -> bool:
    """True for ``Secret``, ``Secret | None`` and pydantic's ``SecretStr`` (optional too)."""
    inner = unwrap_optional(annotation)
    return inner is Secret or getattr(inner, "__name__", "") == "SecretStr"


def decode_options(model: type[Any], settings: DataSourceSettings) -> Any:
    """Build ``model`` from a datasource's ``jsonData`` and ``secureJsonData``.

    Raises :class:`OptionsError` naming the datasource and the field. Example::

        settings = DataSourceSettings(1, "dev", raw_json_data=b'{"url": "http://x"}')
        assert decode_options(Options, settings).url == "http://x"
    """
    where = f"datasource {settings.name!r} (id {settings.id})"
    try:
        json_data = settings.json_data
    except ConfigurationError as error:
        raise OptionsError(error.message, datasource_id=settings.id) from None
    secrets = settings.decrypted_secure_json_data
    values: dict[str, Any] = {}
    for field in model_fields(model):
        secret = is_secret(field.annotation)
        source: Mapping[str, Any] = secrets if secret else json_data
        container = "secureJsonData" if secret else "jsonData"
        key = next((key for key in (field.key, field.name) if key in source), None)
        if key is None:
            if field.required:
                raise OptionsError(
                    f"{where}: setting {field.label!r} is required ({container}.{field.key})",
                    datasource_id=settings.id,
                    field=field.key,
                )
            continue
        value = source[key]
        # An emptied secret input saves "" (the frontend's reset): unset, not an empty key.
        if secret and value == "" and not field.required:
            continue
        wrap = secret and unwrap_optional(field.annotation) is Secret  # SecretStr: pydantic's
        values[field.key] = Secret(value) if wrap else value
    try:
        return decode_model(model, values)
    except ModelError as error:
        raise OptionsError(
            f"{where}: invalid settings: {error}", datasource_id=settings.id, field=None
        ) from None


@dataclass(eq=False)
class OptionsDecoder:
    """Decode a plugin's options once per datasource version and remember the outcome.

    Keyed by datasource id, ``lastUpdatedMS`` (contract 5.7) and a fingerprint of the settings
    (two saves within one second share ``lastUpdatedMS``): a saved change decodes anew;
    a failure is remembered too, so a broken datasource costs one decode, not one per call.
    """

    model: type[Any]
    idle_timeout: float | None = 3600.0
    """Seconds after which the options of an unused datasource are forgotten (``None``: never)."""

    def __post_init__(self) -> None:
        if not is_model_type(self.model):
            raise TypeError(f"options must be a dataclass or a pydantic model, not {self.model!r}")
        self._cache: dict[int, _Decoded] = {}
        self._last_sweep = time.monotonic()

    @property
    def remembered(self) -> int:
        """How many datasources' decoded options are kept."""
        return len(self._cache)

    def decode(self, settings: DataSourceSettings | None) -> Any:
        """The options of ``settings`` (``None`` without a datasource); may raise OptionsError."""
        if settings is None:
            return None
        now = time.monotonic()
        self.evict_idle(now)
        # lastUpdatedMS has whole seconds (issue 16): the fingerprint tells same-second saves apart.
        version = (settings.last_updated_ms, settings_fingerprint(settings))
        cached = self._cache.get(settings.id)
        if cached is None or cached.version != version:
            try:
                cached = _Decoded(version, decode_options(self.model, settings), None)
            except OptionsError as error:
                cached = _Decoded(version, None, error)
            self._cache[settings.id] = cached
        cached.last_used = now
        failure = cached.failure
        if failure is not None:  # a fresh exception per call: no traceback piles up
            raise OptionsError(failure.message, datasource_id=settings.id, field=failure.field)
        return cached.options

    def evict_idle(self, now: float | None = None) -> None:
        """Forget the options of datasources unused for ``idle_timeout`` (checked twice a period).

        Runs on every :meth:`decode`, so the options of deleted datasources do not live as long
        as the process (as their instances do not, :mod:`plutono_plugin.instances`).
        """
        if self.idle_timeout is None:
            return
        now = time.monotonic() if now is None else now
        if now - self._last_sweep < self.idle_timeout / 2:
            return
        self._last_sweep = now
        for key, cached in list(self._cache.items()):
            if now - cached.last_used >= self.idle_timeout:
                del self._cache[key]


@dataclass(eq=False, slots=True)
class _Decoded:
    version: tuple[int, bytes]
    options: Any
    failure: OptionsError | None
    last_used: float = 0.0
