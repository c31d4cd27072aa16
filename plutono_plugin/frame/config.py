"""Field labels and display configuration, typed so that Plutono's Go decoder always accepts them.

Field metadata travels as JSON next to the Arrow column (contract 4.3). The Go side
(alerting, expressions) unmarshals it into the SDK v0.88.0 structs and fails the *whole*
response on any type mismatch (contract 4.6, 4.7), so every value is checked here, when the
object is built, instead of surprising the user at query time.

Example::

    from plutono_plugin.frame.config import FieldConfig, Threshold, ThresholdsConfig

    config = FieldConfig(
        unit="ms",
        decimals=1,
        thresholds=ThresholdsConfig(steps=[Threshold(color="green"), Threshold(200, "red")]),
    )
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from ..errors import FrameError

__all__ = (
    "DataLink",
    "FieldConfig",
    "Labels",
    "NullValueMode",
    "Threshold",
    "ThresholdsConfig",
    "ThresholdsMode",
    "ValueMapping",
    "check_labels",
    "dump_json",
)

Labels = Mapping[str, str]
"""Labels of a field: string keys to string values (contract 4.6: anything else fails in Go)."""

NullValueMode = Literal["null", "connected", "null as zero"]
"""How panels treat nulls; the three values SDK v0.88.0 defines."""

ThresholdsMode = Literal["absolute", "percentage"]
"""Whether threshold step values are absolute or percentages of the min..max range."""

_INT16 = (-(2**15), 2**15 - 1)


def dump_json(value: Any) -> str:
    """Serialise ``value`` the way the wire wants it: compact UTF-8 JSON, no NaN/Infinity."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def check_labels(labels: Mapping[Any, Any]) -> dict[str, str]:
    """Return ``labels`` as a plain ``dict[str, str]``; raise :class:`FrameError` otherwise.

    >>> check_labels({"host": "a"})
    {'host': 'a'}
    """
    if not isinstance(labels, Mapping):
        raise FrameError(f"labels must be a mapping of str to str, got {type(labels).__name__}")
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            # contract 4.6: a non-string label value makes the Go decoder reject the response.
            raise FrameError(f"label {key!r}: keys and values must be str, got {value!r}")
    return dict(labels)


def _check_json(what: str, value: Any) -> None:
    try:
        dump_json(value)
    except (TypeError, ValueError) as exc:
        raise FrameError(f"{what} must be JSON-serialisable without NaN/Infinity: {exc}") from None


def _check_str(what: str, value: object) -> None:
    if not isinstance(value, str):
        raise FrameError(f"{what} must be str, got {type(value).__name__}")


def _number(what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FrameError(f"{what} must be a number, got {value!r}")
    return float(value)


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _expect_mapping(what: str, data: object) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise FrameError(f"{what} must be a JSON object, got {type(data).__name__}")
    return cast(Mapping[str, Any], data)


@dataclass(frozen=True)
class ValueMapping:
    """Map a value (``type=1``) or a range ``from_``..``to`` (``type=2``) to a display text."""

    id: int = 0
    text: str = ""
    type: Literal[0, 1, 2] = 0
    value: str = ""
    from_: str = ""
    to: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.id, bool) or not isinstance(self.id, int):
            raise FrameError(f"value mapping id must be an int, got {self.id!r}")
        if not _INT16[0] <= self.id <= _INT16[1]:
            raise FrameError(f"value mapping id must fit int16, got {self.id}")
        if self.type not in (0, 1, 2):
            raise FrameError(
                f"value mapping type must be 1 (value) or 2 (range), got {self.type!r}"
            )
        for name in ("text", "value", "from_", "to"):
            # The SDK v0.88.0 struct declares value/from/to as strings: numbers fail in Go.
            _check_str(f"value mapping {name.rstrip('_')}", getattr(self, name))

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object the SDK writes (zero values omitted)."""
        pairs = [("id", self.id), ("text", self.text), ("type", self.type)]
        pairs += [("value", self.value), ("from", self.from_), ("to", self.to)]
        return {key: value for key, value in pairs if value}

    @classmethod
    def from_json(cls, data: object) -> ValueMapping:
        """Build from a decoded JSON object."""
        obj = _expect_mapping("value mapping", data)
        return cls(
            id=obj.get("id", 0),
            text=obj.get("text", ""),
            type=obj.get("type", 0),
            value=obj.get("value", ""),
            from_=obj.get("from", ""),
            to=obj.get("to", ""),
        )


@dataclass(frozen=True)
class DataLink:
    """A link shown on a field's values."""

    title: str = ""
    url: str = ""
    target_blank: bool = False

    def __post_init__(self) -> None:
        _check_str("link title", self.title)
        _check_str("link url", self.url)
        if not isinstance(self.target_blank, bool):
            raise FrameError(f"link target_blank must be bool, got {self.target_blank!r}")

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object the SDK writes (zero values omitted)."""
        pairs = [("title", self.title), ("targetBlank", self.target_blank), ("url", self.url)]
        return {key: value for key, value in pairs if value}

    @classmethod
    def from_json(cls, data: object) -> DataLink:
        """Build from a decoded JSON object."""
        obj = _expect_mapping("link", data)
        return cls(
            title=obj.get("title", ""),
            url=obj.get("url", ""),
            target_blank=obj.get("targetBlank", False),
        )


@dataclass(frozen=True)
class Threshold:
    """One threshold step; the first step's ``value`` is -Infinity (written as ``null``)."""

    value: float = -math.inf
    color: str = ""
    state: str = ""

    def __post_init__(self) -> None:
        value = _number("threshold value", self.value)
        # The SDK writes any non-finite value as null, which the frontend reads as -Infinity.
        _set(self, "value", value if math.isfinite(value) else -math.inf)
        _check_str("threshold color", self.color)
        _check_str("threshold state", self.state)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object the SDK writes."""
        out: dict[str, Any] = {"value": self.value if math.isfinite(self.value) else None}
        if self.value == 0:
            del out["value"]  # Go's omitempty drops a zero value; absent decodes as 0.
        out.update(
            {key: value for key, value in (("color", self.color), ("state", self.state)) if value}
        )
        return out

    @classmethod
    def from_json(cls, data: object) -> Threshold:
        """Build from a decoded JSON object (``null`` value = -Infinity, absent = 0)."""
        obj = _expect_mapping("threshold", data)
        value = obj.get("value", 0.0)
        return cls(
            value=-math.inf if value is None else value,
            color=obj.get("color", ""),
            state=obj.get("state", ""),
        )


@dataclass(frozen=True)
class ThresholdsConfig:
    """Threshold steps, absolute or in percent."""

    mode: ThresholdsMode = "absolute"
    steps: Sequence[Threshold] = ()

    def __post_init__(self) -> None:
        if self.mode not in get_args(ThresholdsMode):
            raise FrameError(
                f"thresholds mode must be 'absolute' or 'percentage', got {self.mode!r}"
            )
        steps = tuple(self.steps)
        if not all(isinstance(step, Threshold) for step in steps):
            raise FrameError("thresholds steps must be Threshold objects")
        _set(self, "steps", steps)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object the SDK writes."""
        return {"mode": self.mode, "steps": [step.to_json() for step in self.steps]}

    @classmethod
    def from_json(cls, data: object) -> ThresholdsConfig:
        """Build from a decoded JSON object."""
        obj = _expect_mapping("thresholds", data)
        steps = obj.get("steps") or ()
        return cls(mode=obj.get("mode", "absolute"), steps=tuple(map(Threshold.from_json, steps)))


# JSON key <-> attribute for the plain (string) keys of FieldConfig, in the SDK's order.
_CONFIG_STRINGS = {
    "displayName": "display_name",
    "displayNameFromDS": "display_name_from_ds",
    "path": "path",
    "description": "description",
}
_CONFIG_KEYS = frozenset(_CONFIG_STRINGS) | {"filterable", "unit", "decimals", "min", "max"}
_CONFIG_KEYS |= {"mappings", "thresholds", "color", "nullValueMode", "links", "noValue", "custom"}


@dataclass(frozen=True)
class FieldConfig:
    """How Plutono displays a field: every key of SDK v0.88.0 ``FieldConfig`` (contract 4.6).

    ``decimals`` must be an int in 0..65535 (Go ``uint16``). ``min``/``max`` that are NaN or
    ±Infinity are stored as NaN and written as ``null``, as the SDK does. Keys the SDK does not
    know (frontend-only options) go to ``extra``; the Go decoder ignores them.

    Example::

        FieldConfig(display_name="CPU", unit="percent", min=0, max=100)
    """

    display_name: str = ""
    """The name panels show for the field (``displayName``); the user may override it."""
    display_name_from_ds: str = ""
    """A name set by the datasource (``displayNameFromDS``), used before Plutono's naming."""
    path: str = ""
    """The field's path in the datasource (``path``), an identifier in the datasource's scope."""
    description: str = ""
    """Human-readable text about the field (``description``)."""
    filterable: bool | None = None
    """True when the datasource supports ad-hoc filters on this field; ``None``: unset."""
    unit: str = ""
    """The unit id panels format values with (``ms``, ``percent``, ``bytes``, ...)."""
    decimals: int | None = None
    """Digits shown after the decimal point, 0..65535; ``None``: automatic."""
    min: float | None = None
    """The lower end of the value range (gauges, thresholds in percent); NaN: ``null``."""
    max: float | None = None
    """The upper end of the value range; NaN: ``null``."""
    mappings: Sequence[ValueMapping] = ()
    """:class:`ValueMapping` objects turning values or ranges into display texts."""
    thresholds: ThresholdsConfig | None = None
    """The :class:`ThresholdsConfig` steps that color values; ``None``: unset."""
    color: Mapping[str, Any] | None = None
    """The color scheme as its JSON object (e.g. ``{"mode": "thresholds"}``); ``None``: unset."""
    null_value_mode: NullValueMode | None = None
    """How panels draw nulls: ``"null"``, ``"connected"`` or ``"null as zero"``."""
    links: Sequence[DataLink] = ()
    """:class:`DataLink` objects shown on the field's values."""
    no_value: str = ""
    """The text shown when the field has no value (``noValue``)."""
    custom: Mapping[str, Any] | None = None
    """Panel-specific options (``custom``), any JSON object; ``None``: unset."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Keys the SDK does not know (frontend-only options), written as they are."""

    def __post_init__(self) -> None:
        for attribute in (*_CONFIG_STRINGS.values(), "unit", "no_value"):
            _check_str(f"config {attribute}", getattr(self, attribute))
        if self.filterable is not None and not isinstance(self.filterable, bool):
            raise FrameError(f"config filterable must be bool, got {self.filterable!r}")
        decimals = self.decimals
        if decimals is not None and (
            isinstance(decimals, bool)
            or not isinstance(decimals, int)
            or not 0 <= decimals <= 65535
        ):
            # contract 4.6: Go decodes decimals into uint16; -1 or 1.5 fail the whole response.
            raise FrameError(f"config decimals must be an int in 0..65535, got {decimals!r}")
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is not None:
                number = _number(f"config {name}", value)
                _set(self, name, number if math.isfinite(number) else math.nan)
        _set(self, "mappings", self._tuple_of("mappings", ValueMapping))
        _set(self, "links", self._tuple_of("links", DataLink))
        if self.thresholds is not None and not isinstance(self.thresholds, ThresholdsConfig):
            raise FrameError("config thresholds must be a ThresholdsConfig")
        if self.null_value_mode is not None and self.null_value_mode not in get_args(NullValueMode):
            raise FrameError(f"config null_value_mode must be one of {get_args(NullValueMode)}")
        for name in ("color", "custom"):
            value = getattr(self, name)
            if value is not None:
                _set(self, name, dict(_expect_mapping(f"config {name}", value)))
                _check_json(f"config {name}", value)
        extra = dict(_expect_mapping("config extra", self.extra))
        clash = sorted(_CONFIG_KEYS & extra.keys())
        if clash:
            raise FrameError(f"config extra repeats known keys {clash}; use the attributes")
        _check_json("config extra", extra)
        _set(self, "extra", extra)

    def _tuple_of(self, name: str, kind: type[Any]) -> tuple[Any, ...]:
        items = tuple(getattr(self, name))
        if not all(isinstance(item, kind) for item in items):
            raise FrameError(f"config {name} must hold {kind.__name__} objects")
        return items

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object the SDK writes (unset values omitted, NaN min/max as null)."""
        out: dict[str, Any] = {}
        for key, attribute in _CONFIG_STRINGS.items():
            if getattr(self, attribute):
                out[key] = getattr(self, attribute)
        if self.filterable is not None:
            out["filterable"] = self.filterable
        if self.unit:
            out["unit"] = self.unit
        if self.decimals is not None:
            out["decimals"] = self.decimals
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value if math.isfinite(value) else None
        if self.mappings:
            out["mappings"] = [mapping.to_json() for mapping in self.mappings]
        if self.thresholds is not None:
            out["thresholds"] = self.thresholds.to_json()
        if self.color:
            out["color"] = dict(self.color)
        if self.null_value_mode:
            out["nullValueMode"] = self.null_value_mode
        if self.links:
            out["links"] = [link.to_json() for link in self.links]
        if self.no_value:
            out["noValue"] = self.no_value
        if self.custom:
            out["custom"] = dict(self.custom)
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: object) -> FieldConfig:
        """Build from ``data``, a decoded JSON object, validating every key.

        Keys the SDK does not know go to ``extra``.
        """
        obj = _expect_mapping("field config", data)
        strings = {attribute: obj.get(key, "") for key, attribute in _CONFIG_STRINGS.items()}
        limits = {
            name: math.nan if obj.get(name, 0) is None else obj.get(name) for name in ("min", "max")
        }
        thresholds = obj.get("thresholds")
        return cls(
            **strings,
            filterable=obj.get("filterable"),
            unit=obj.get("unit", ""),
            decimals=obj.get("decimals"),
            min=limits["min"],
            max=limits["max"],
            mappings=tuple(map(ValueMapping.from_json, _list(obj, "mappings"))),
            thresholds=None if thresholds is None else ThresholdsConfig.from_json(thresholds),
            color=obj.get("color"),
            null_value_mode=obj.get("nullValueMode") or None,
            links=tuple(map(DataLink.from_json, _list(obj, "links"))),
            no_value=obj.get("noValue", ""),
            custom=obj.get("custom"),
            extra={key: value for key, value in obj.items() if key not in _CONFIG_KEYS},
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldConfig):
            return NotImplemented
        # NaN min/max mean "null" and must compare equal to each other.
        return bool(_comparable(self.to_json()) == _comparable(other.to_json()))

    def __hash__(self) -> int:
        return hash(dump_json(_comparable(self.to_json())))


def _list(obj: Mapping[str, Any], key: str) -> Iterable[Any]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise FrameError(f"config {key} must be a JSON array, got {type(value).__name__}")
    return value


def _comparable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value
