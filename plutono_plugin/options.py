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

The framework decodes the options once per datasource version (``id`` and ``lastUpdatedMS``,
like instances, contract 5.7) and passes them to every handler and instance factory parameter
annotated with the declared type (also as ``RequestContext.options``). Settings that do not fit
the model fail every call of that datasource with an
:class:`~plutono_plugin.errors.OptionsError` naming the field:
"Save & Test" shows it (health ERROR) and each query answers it for its refId.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._model import ModelError, decode_model, is_model_type, model_fields, unwrap_optional
from .context import DataSourceSettings
from .errors import ConfigurationError, OptionsError

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

    Keyed by datasource id and ``lastUpdatedMS`` (contract 5.7): a saved change decodes anew;
    a failure is remembered too, so a broken datasource costs one decode, not one per call.
    """

    model: type[Any]

    def __post_init__(self) -> None:
        if not is_model_type(self.model):
            raise TypeError(f"options must be a dataclass or a pydantic model, not {self.model!r}")
        self._cache: dict[int, tuple[int, Any, OptionsError | None]] = {}

    def decode(self, settings: DataSourceSettings | None) -> Any:
        """The options of ``settings`` (``None`` without a datasource); may raise OptionsError."""
        if settings is None:
            return None
        cached = self._cache.get(settings.id)
        if cached is None or cached[0] != settings.last_updated_ms:
            try:
                cached = (settings.last_updated_ms, decode_options(self.model, settings), None)
            except OptionsError as error:
                cached = (settings.last_updated_ms, None, error)
            self._cache[settings.id] = cached
        failure = cached[2]
        if failure is not None:  # a fresh exception per call: no traceback piles up
            raise OptionsError(failure.message, datasource_id=settings.id, field=failure.field)
        return cached[1]
