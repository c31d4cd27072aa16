"""Decode a query's JSON into the dataclass or pydantic model a handler declares.

Dataclass fields match a JSON key of the same name or its camelCase form
(``duration_ms`` ↔ ``durationMs``); simple annotations are checked, ``Literal`` values and enum
members too (an enum field receives the member); pydantic models use their own validation.
Numbers are checked as the generated editor checks them (contract 8.9): an ``int`` is a safe
integer (at most 2**53 - 1 in magnitude, what a browser holds exactly), a ``float`` is finite,
and both stay within declared bounds (:func:`numeric_bounds`).
Every failure is a :class:`ModelError` naming the field.

:func:`model_fields` describes a model's fields (JSON key, annotation, default, label and help
from field metadata or attribute docstrings) for the generated frontend and typed settings.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import itertools
import math
import textwrap
import types
import typing
from collections.abc import Collection, Mapping
from typing import Any

__all__ = (
    "MAX_SAFE_INTEGER",
    "MISSING",
    "Bounds",
    "ModelError",
    "ModelField",
    "decode_model",
    "is_model_type",
    "model_fields",
    "numeric_bounds",
    "suggestion",
    "unwrap_optional",
)

MAX_SAFE_INTEGER = 2**53 - 1
"""JavaScript's ``Number.MAX_SAFE_INTEGER``: larger integers lose digits in a browser."""

MISSING: Any = dataclasses.MISSING
"""The default of a field that has none (it is required)."""


class ModelError(ValueError):
    """The query JSON does not fit the handler's model; the message names the field."""


def is_model_type(annotation: object) -> bool:
    """True for a dataclass type or a pydantic ``BaseModel`` subclass."""
    if not isinstance(annotation, type):
        return False
    return dataclasses.is_dataclass(annotation) or hasattr(annotation, "model_validate")


def unwrap_optional(annotation: object) -> object:
    """``X`` for ``X | None`` (and ``Optional[X]``); any other annotation unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_SIMPLE: dict[object, tuple[type, ...]] = {
    int: (int,),
    float: (int, float),
    str: (str,),
    bool: (bool,),
    list: (list,),
    dict: (dict,),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Bounds:
    """Inclusive (or exclusive) limits of a numeric field; ``None`` means unbounded."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False

    def problem(self, value: float) -> str | None:
        """Why ``value`` is out of bounds, or ``None`` when it is within them."""
        low, high = self.minimum, self.maximum
        if low is not None and (value <= low if self.exclusive_minimum else value < low):
            return f"must be {'greater than' if self.exclusive_minimum else 'at least'} {low}"
        if high is not None and (value >= high if self.exclusive_maximum else value > high):
            return f"must be {'less than' if self.exclusive_maximum else 'at most'} {high}"
        return None


def _number(value: object) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def numeric_bounds(annotation: object, metadata: Mapping[str, Any], extras: Any = ()) -> Bounds:
    """The bounds of a numeric field, from its metadata and constraints.

    ``metadata={"min": 1, "max": 100}`` (inclusive), and
    ``annotated_types``/pydantic constraints (``Ge``, ``Gt``, ``Le``, ``Lt``, ``Interval``,
    ``Field(ge=...)``) in ``Annotated[...]`` or ``extras``.

    For an ``int`` field an exclusive bound becomes the next inclusive integer (``gt=0`` → min 1).
    Example::

        bounds = numeric_bounds(int, {"min": 1, "max": 10})
        assert bounds.problem(11) == "must be at most 10"

    """
    constraints = list(extras)
    if typing.get_origin(annotation) is typing.Annotated:
        constraints += list(annotation.__metadata__)  # type: ignore[attr-defined]
        annotation = typing.get_args(annotation)[0]
    is_int = unwrap_optional(annotation) is int
    low, high = _number(metadata.get("min")), _number(metadata.get("max"))
    low_open = high_open = False
    for constraint in constraints:
        for name in ("ge", "gt"):
            bound = _number(getattr(constraint, name, None))
            if bound is not None:
                low, low_open = bound, name == "gt"
        for name in ("le", "lt"):
            bound = _number(getattr(constraint, name, None))
            if bound is not None:
                high, high_open = bound, name == "lt"
    if is_int and low_open and isinstance(low, int):
        low, low_open = low + 1, False
    if is_int and high_open and isinstance(high, int):
        high, high_open = high - 1, False
    return Bounds(low, high, low_open, high_open)


def _check_number(field_name: str, origin: object, value: object) -> None:
    """The browser's limits (contract 8.9): safe integers, finite floats."""
    if origin is int and isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        raise ModelError(
            f"field {field_name!r}: {value} is not a safe integer "
            f"(at most {MAX_SAFE_INTEGER} in magnitude)"
        )
    if origin is float and isinstance(value, float) and not math.isfinite(value):
        raise ModelError(f"field {field_name!r}: {value} is not a finite number")


def _check_value(field_name: str, annotation: object, value: object) -> Any:
    """``value`` checked against ``annotation``; enum fields get the member, others the value."""
    origin = typing.get_origin(annotation) or annotation
    arguments = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in arguments:
            return value
        for option in arguments:
            try:
                return _check_value(field_name, option, value)
            except ModelError:
                continue
        raise ModelError(f"field {field_name!r}: {value!r} does not match {annotation}")
    if origin is typing.Literal:
        if any(value == choice and type(value) is type(choice) for choice in arguments):
            return value
        choices = ", ".join(repr(choice) for choice in arguments)
        raise ModelError(f"field {field_name!r}: {value!r} is not one of {choices}")
    if isinstance(origin, type) and issubclass(origin, enum.Enum):
        if isinstance(value, origin):
            return value
        try:
            return origin(value)
        except ValueError:
            choices = ", ".join(repr(member.value) for member in origin)
            raise ModelError(f"field {field_name!r}: {value!r} is not one of {choices}") from None
    allowed = _SIMPLE.get(origin)
    if allowed is None:
        return value  # types we do not check are passed through as decoded
    if isinstance(value, bool) and bool not in allowed:
        raise ModelError(f"field {field_name!r}: expected {origin.__name__}, got a boolean")  # type: ignore[union-attr]
    if not isinstance(value, allowed):
        expected = getattr(origin, "__name__", str(origin))
        raise ModelError(f"field {field_name!r}: expected {expected}, got {type(value).__name__}")
    _check_number(field_name, origin, value)
    return value


_FieldPlan = tuple[str, tuple[str, ...], object, bool, Bounds]


_PLANS: dict[type[Any], tuple[_FieldPlan, ...]] = {}


def _dataclass_plan(model: type[Any]) -> tuple[_FieldPlan, ...]:
    """Per dataclass, once: (name, JSON keys, annotation, required) of each init field.

    ``typing.get_type_hints`` re-evaluates string annotations on every call; doing it per
    query was a visible share of the QueryData profile (docs/benchmarks.md).
    """
    cached = _PLANS.get(model)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(model)
    annotated = typing.get_type_hints(model, include_extras=True)
    plan = []
    for field in dataclasses.fields(model):
        if not field.init:
            continue
        keys = tuple(dict.fromkeys((field.name, _camel(field.name))))
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        bounds = numeric_bounds(annotated.get(field.name, Any), field.metadata)
        plan.append((field.name, keys, hints.get(field.name, Any), required, bounds))
    _PLANS[model] = tuple(plan)
    return _PLANS[model]


def decode_model(model: type[Any], data: Mapping[str, Any]) -> Any:
    """Build ``model`` from query JSON; unknown keys (refId, datasource, ...) are ignored.

    Dataclass fields match a JSON key of the same name or its camelCase form
    (``duration_ms`` ↔ ``durationMs``); simple annotations (int, float, str, bool, list, dict,
    optionals) are checked. Pydantic models use ``model_validate``.
    """
    if hasattr(model, "model_validate"):
        try:
            decoded = model.model_validate(dict(data))
        except ValueError as error:
            problems = getattr(error, "errors", None)
            if callable(problems):
                details = "; ".join(
                    f"field {'.'.join(str(part) for part in item.get('loc', ()))!r}: "
                    f"{item.get('msg', '')}"
                    for item in problems()
                )
                raise ModelError(details) from None
            raise ModelError(str(error)) from None
        # pydantic accepts 2**60 and, by default, inf and nan: the browser's limits apply too.
        for name, info in model.model_fields.items():
            origin = unwrap_optional(info.annotation)
            if origin in (int, float):
                _check_number(info.alias or name, origin, getattr(decoded, name, None))
        return decoded
    values: dict[str, Any] = {}
    for name, keys, annotation, required, bounds in _dataclass_plan(model):
        for key in keys:
            if key in data:
                values[name] = _check_value(key, annotation, data[key])
                number = _number(values[name])
                problem = None if number is None else bounds.problem(number)
                if problem is not None:
                    raise ModelError(f"field {key!r}: {number!r} {problem}")
                break
        else:
            if required:
                raise ModelError(f"field {name!r} is required")
    try:
        return model(**values)
    except (TypeError, ValueError) as error:
        raise ModelError(str(error)) from None


PLUTONO_QUERY_KEYS: frozenset[str] = frozenset(
    {
        "refId",
        "queryType",
        "datasource",
        "datasourceId",
        "intervalMs",
        "maxDataPoints",
        "hide",
        "key",
        "from",
        "to",
    }
)
"""Keys Plutono's frontend and alerting add to every query (contract 2.4.1 and 8): never
unknown."""

_KEYS: dict[type[Any], frozenset[str]] = {}


def _model_keys(model: type[Any]) -> frozenset[str]:
    keys = _KEYS.get(model)
    if keys is None:
        pydantic_fields = getattr(model, "model_fields", None)
        if isinstance(pydantic_fields, Mapping):
            names = {name for name in pydantic_fields}
            names |= {info.alias for info in pydantic_fields.values() if info.alias}
        else:
            names = {key for plan in _dataclass_plan(model) for key in plan[1]}
        keys = _KEYS[model] = frozenset(names)
    return keys


def is_strict(model: type[Any]) -> bool:
    """True when unknown query keys are an error rather than a warning.

    A model says so with ``strict: ClassVar[bool] = True`` (a pydantic model also with
    ``model_config = ConfigDict(extra="forbid")``).
    """
    config = getattr(model, "model_config", None)
    if isinstance(config, Mapping) and config.get("extra") == "forbid":
        return True
    return getattr(model, "strict", False) is True


def unknown_keys(model: type[Any], data: Mapping[str, Any]) -> list[str]:
    """Keys of ``data`` that neither ``model`` nor Plutono knows, each with a "did you mean".

    Example::

        @dataclass
        class Sine:
            amplitude: float = 1.0

        assert unknown_keys(Sine, {"refId": "A", "amplitdue": 2}) == [
            "'amplitdue' (did you mean 'amplitude'?)"
        ]
    """
    known = _model_keys(model)
    return [
        f"{key!r}{suggestion(key, known)}"
        for key in data
        if key not in known and key not in PLUTONO_QUERY_KEYS
    ]


def suggestion(word: str, known: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or ``""``.

    Example::

        assert suggestion("amplitdue", ["amplitude", "period"]) == " (did you mean 'amplitude'?)"
    """
    import difflib  # only on a mistake, not in every cold start

    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclasses.dataclass(frozen=True, slots=True)
class ModelField:
    """One field of a query or settings model, as the frontend and the settings decoder see it.

    ``key`` is the JSON key the frontend writes (camelCase for dataclasses, the alias or name
    for pydantic); ``default`` is :data:`MISSING` for a required field; ``label``, ``help``,
    ``placeholder`` and ``order`` come from dataclass ``field(metadata=...)`` (pydantic:
    ``title``, ``description``, ``json_schema_extra``), ``help`` else from the attribute
    docstring.
    """

    name: str
    key: str
    annotation: Any
    default: Any
    label: str
    help: str
    placeholder: str
    order: float
    metadata: Mapping[str, Any]
    bounds: Bounds = Bounds()

    @property
    def required(self) -> bool:
        """True when the field has no default."""
        return self.default is MISSING


def _attribute_docs(model: type[Any]) -> dict[str, str]:
    """Docstrings written under class attributes (string statements), along the MRO."""
    docs: dict[str, str] = {}
    for klass in reversed(model.__mro__):
        if klass is object:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for statement, following in itertools.pairwise(body):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[statement.target.id] = inspect.cleandoc(following.value.value)
    return docs


def _label(name: str) -> str:
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def model_fields(model: type[Any]) -> tuple[ModelField, ...]:
    """Describe the fields of a dataclass or pydantic model, ordered by ``order`` then source.

    Example::

        @dataclass
        class Settings:
            timeout_s: float = 5.0
            '''Seconds before a request to the upstream gives up.'''

        (timeout,) = model_fields(Settings)
        assert (timeout.key, timeout.label) == ("timeoutS", "Timeout s")
        assert timeout.help.startswith("Seconds")
    """
    docs = _attribute_docs(model)
    described: list[ModelField] = []
    pydantic_fields = getattr(model, "model_fields", None)
    if isinstance(pydantic_fields, Mapping):
        for name, info in pydantic_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            default = MISSING if info.is_required() else info.get_default(call_default_factory=True)
            described.append(
                _described(
                    name,
                    info.alias or name,
                    info.annotation,
                    default,
                    extra,
                    docs,
                    label=info.title,
                    help_text=info.description,
                    constraints=info.metadata,
                )
            )
    else:
        hints = typing.get_type_hints(model, include_extras=True)
        for field in dataclasses.fields(model):
            if not field.init:
                continue
            if field.default is not dataclasses.MISSING:
                default = field.default
            elif field.default_factory is not dataclasses.MISSING:
                default = field.default_factory()
            else:
                default = MISSING
            described.append(
                _described(
                    field.name,
                    _camel(field.name),
                    hints.get(field.name, Any),
                    default,
                    dict(field.metadata),
                    docs,
                )
            )
    ranked = sorted(enumerate(described), key=lambda item: (item[1].order, item[0]))
    return tuple(field for _, field in ranked)


def _described(
    name: str,
    key: str,
    annotation: Any,
    default: Any,
    metadata: Mapping[str, Any],
    docs: Mapping[str, str],
    *,
    label: str | None = None,
    help_text: str | None = None,
    constraints: Any = (),
) -> ModelField:
    order = metadata.get("order", 0)
    bounds = numeric_bounds(annotation, metadata, constraints)
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return ModelField(
        name=name,
        key=key,
        annotation=annotation,
        bounds=bounds,
        default=default,
        label=str(metadata.get("label") or label or _label(name)),
        help=str(metadata.get("help") or help_text or docs.get(name, "")),
        placeholder=str(metadata.get("placeholder", "")),
        order=float(order) if isinstance(order, int | float) else 0.0,
        metadata=types.MappingProxyType(dict(metadata)),
    )
