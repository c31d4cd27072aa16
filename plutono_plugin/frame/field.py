"""The :class:`Field`: one column of a frame, values of one type (contract 4.3, 4.4).

Each field has one of 13 element types (:class:`~plutono_plugin.frame.FieldType`) and is
nullable or not.

Pure Python: numpy arrays are wrapped as Arrow buffers without a copy and without an Arrow
library (:mod:`plutono_plugin.frame._columns`); pandas, polars and pyarrow columns are
converted by pyarrow (:mod:`plutono_plugin.frame._arrow`, the ``arrow`` extra, imported only
then). Neither becomes Python objects.

Time values are integers: nanoseconds since the Unix epoch, UTC. Fields accept aware
``datetime`` objects, naive ones (taken as **UTC**), ``numpy.datetime64``, ``pandas.Timestamp``
and ``int`` nanoseconds; a ``datetime`` has microsecond resolution, an int keeps every
nanosecond. Times outside the int64-nanosecond range (years 1677..2262) are rejected.

Example::

    from datetime import datetime, timezone
    from plutono_plugin.frame import Field, Frame

    times = [datetime(2024, 1, 1, tzinfo=timezone.utc), 1704067260_000000000]
    frame = Frame("cpu", [Field("time", times), Field("value", [0.5, None], labels={"h": "a"})])
    payload = frame.encode()  # Arrow IPC file bytes, as Plutono 7.5 reads them
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from .._time import EPOCH
from ..errors import FrameError
from ._columns import Column, from_numpy, from_python, to_python
from ._fastpath import fast_type, fast_values
from .config import FieldConfig, Labels, check_labels
from .types import INT_RANGES, FieldType

if TYPE_CHECKING:
    import pyarrow

__all__ = ("Field", "time_to_ns")

_NS_RANGE = INT_RANGES[FieldType.INT64]
_NULL_TYPE_NAMES = frozenset({"NaTType", "NAType"})
_FLOAT32 = struct.Struct("f")


def _is_null(value: object) -> bool:
    if value is None or type(value).__name__ in _NULL_TYPE_NAMES:
        return True
    return type(value).__name__ == "datetime64" and bool(value != value)  # numpy NaT


def time_to_ns(value: object) -> int:
    """Convert one time value to int nanoseconds since the epoch (UTC); see the module doc."""
    kind = type(value).__name__
    if kind == "datetime64" or (kind == "Timestamp" and hasattr(value, "asm8")):
        from ._columns import datetime64_to_ns

        # numpy, or pandas (a datetime subclass) by its datetime64 in its own unit: no overflow
        ns = datetime64_to_ns(value if kind == "datetime64" else cast(Any, value).asm8)
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # naive means UTC, documented above
        delta = value - EPOCH
        ns = ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1_000
    elif isinstance(value, int) and not isinstance(value, bool):
        ns = value
    elif hasattr(value, "__index__") and kind.startswith(("int", "uint")):
        ns = operator.index(value)
    else:
        raise FrameError(
            f"time value must be a datetime, numpy.datetime64, pandas.Timestamp or int "
            f"nanoseconds, got {type(value).__name__}"
        )
    if not _NS_RANGE[0] <= ns <= _NS_RANGE[1]:
        raise FrameError(
            f"time {value!r} is outside the int64 nanosecond range (1677-09-21 .. 2262-04-11) "
            "that Plutono's decoders can represent"
        )
    return ns


def _infer_type(name: str, values: Sequence[Any]) -> FieldType:
    kinds: set[FieldType] = set()
    for value in values:
        if _is_null(value):
            continue
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            kinds.add(FieldType.BOOL)
        elif isinstance(value, int) or type(value).__name__.startswith(("int", "uint")):
            kinds.add(FieldType.INT64 if int(value) <= _NS_RANGE[1] else FieldType.UINT64)
        elif isinstance(value, float) or type(value).__name__.startswith("float"):
            kinds.add(FieldType.FLOAT64)
        elif isinstance(value, str):
            kinds.add(FieldType.STRING)
        elif isinstance(value, datetime) or type(value).__name__ in ("datetime64", "Timestamp"):
            kinds.add(FieldType.TIME)
        else:
            raise FrameError(
                f"unsupported value {value!r} of type {type(value).__name__}", field=name
            )
    if len(kinds) > 1 and kinds <= {FieldType.INT64, FieldType.UINT64}:
        kinds = {FieldType.UINT64}  # a big int only fits uint64; negatives fail later
    if len(kinds) > 1 and kinds <= {FieldType.INT64, FieldType.UINT64, FieldType.FLOAT64}:
        kinds = {FieldType.FLOAT64}
    if kinds == {FieldType.TIME, FieldType.INT64}:
        kinds = {FieldType.TIME}  # ints next to times are nanoseconds
    if not kinds:
        raise FrameError(
            "cannot infer the type of an empty or all-null field; pass type=", field=name
        )
    if len(kinds) > 1:
        found = ", ".join(sorted(kinds))
        raise FrameError(f"values of mixed types ({found}); pass type= or convert them", field=name)
    return kinds.pop()


def _coerce(name: str, ftype: FieldType, value: Any) -> Any:
    try:
        if ftype is FieldType.TIME:
            return time_to_ns(value)
        if ftype is FieldType.STRING:
            if not isinstance(value, str):
                raise FrameError(f"expected str, got {type(value).__name__}")
            return value
        if ftype is FieldType.BOOL:
            if not (isinstance(value, bool) or type(value).__name__ == "bool_"):
                raise FrameError(f"expected bool, got {type(value).__name__}")
            return bool(value)
        if ftype.is_integer:
            if isinstance(value, bool | float):
                raise FrameError(f"expected an integer, got {value!r}")
            number = operator.index(value)
            low, high = INT_RANGES[ftype]
            if not low <= number <= high:
                raise FrameError(f"{number} does not fit {ftype}")
            return number
        if isinstance(value, str | bool) or not hasattr(value, "__float__"):
            raise FrameError(f"expected a number, got {value!r}")
        real = float(value)
        if ftype is FieldType.FLOAT32 and math.isfinite(real):
            return _FLOAT32.unpack(_FLOAT32.pack(real))[0]  # float32 precision, as decoded
        return real
    except FrameError as exc:
        raise FrameError(exc.reason, field=name) from None
    except (TypeError, OverflowError) as exc:
        raise FrameError(f"{value!r} is not a {ftype} value: {exc}", field=name) from None


def _source_kind(values: object) -> str:
    root = type(values).__module__.split(".")[0]
    if root == "numpy" and hasattr(values, "dtype") and getattr(values.dtype, "kind", "O") == "O":
        return "python"  # object arrays hold Python values
    scalar = type(values).__name__.endswith(("Timestamp", "datetime64"))
    return root if root in ("numpy", "pandas", "polars", "pyarrow") and not scalar else "python"


class Field:
    """One column of a frame: a name, values of one :class:`FieldType`, labels and config.

    ``values`` may be a Python sequence (``type`` inferred unless given; ``None`` is null),
    a numpy array, a pandas or polars Series, or a pyarrow Array. ``nullable`` defaults to
    "has nulls"; declaring ``nullable=False`` for data with nulls is an error.

    Example::

        Field("temperature", [21.5, None, 22.0], labels={"room": "kitchen"},
              config=FieldConfig(unit="celsius"))
    """

    __slots__ = (
        "_arrow",
        "_column",
        "_config",
        "_labels",
        "_length",
        "_nullable",
        "_type",
        "_values",
        "name",
    )

    def __init__(
        self,
        name: str,
        values: Iterable[Any] = (),
        *,
        type: FieldType | str | None = None,
        nullable: bool | None = None,
        labels: Labels | None = None,
        config: FieldConfig | Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise FrameError(f"field name must be str, got {name!r}")
        self.name = name
        try:
            wanted = None if type is None else FieldType(type)
        except ValueError:
            choices = ", ".join(FieldType)
            raise FrameError(
                f"unknown field type {type!r} (one of {choices})", field=name
            ) from None
        self._arrow: Any = None
        self._column: Column | None = None
        self._values: list[Any] | None = None
        kind = _source_kind(values)
        if kind == "numpy":
            wrapped = from_numpy(name, values, wanted, nullable)  # no Arrow library involved
            if wrapped is None:  # text: Python values
                kind, values = "python", cast(Any, values).tolist()
            else:
                self._column, self._type, self._nullable = wrapped
                self._length: int = self._column.length
        if kind in ("pandas", "polars", "pyarrow"):
            if kind != "pyarrow":
                from ._extras import require

                require(f"a {kind} column (field {name!r})", kind)
            from . import _arrow

            self._arrow, self._type, self._nullable = _arrow.column(
                name, values, kind, wanted, nullable
            )
            self._length = len(self._arrow)
        elif kind == "python":
            if isinstance(values, str | bytes) or not isinstance(values, Iterable):
                raise FrameError(
                    f"values must be a sequence, got {values.__class__.__name__}", field=name
                )
            items = list(values)
            self._type = wanted or FieldType(fast_type(items) or _infer_type(name, items))
            ftype = self._type
            fast = fast_values(ftype, items)  # no per-value work when none is needed
            if fast is None:
                fast = [None if _is_null(v) else _coerce(name, ftype, v) for v in items]
            self._values = fast
            has_nulls = None in self._values  # identity first: no __eq__ on the values
            if nullable is False and has_nulls:
                raise FrameError("declared nullable=False but holds nulls", field=name)
            self._nullable = has_nulls if nullable is None else bool(nullable)
            self._length = len(self._values)
        self.labels = labels
        self.config = config

    @property
    def type(self) -> FieldType:
        """The element type."""
        return self._type

    @property
    def nullable(self) -> bool:
        """Whether the column is written as nullable (pointer types in Go)."""
        return self._nullable

    @property
    def labels(self) -> dict[str, str] | None:
        """The field's labels (``None``: none written; ``{}`` is written as ``{}``)."""
        return self._labels

    @labels.setter
    def labels(self, labels: Labels | None) -> None:
        try:
            self._labels = None if labels is None else check_labels(labels)
        except FrameError as exc:
            raise FrameError(exc.reason, field=self.name) from None

    @property
    def config(self) -> FieldConfig | None:
        """Display configuration, or ``None`` (no ``config`` key written)."""
        return self._config

    @config.setter
    def config(self, config: FieldConfig | Mapping[str, Any] | None) -> None:
        try:
            self._config = (
                config
                if config is None or isinstance(config, FieldConfig)
                else FieldConfig.from_json(config)
            )
        except FrameError as exc:
            raise FrameError(exc.reason, field=self.name) from None

    @property
    def values(self) -> list[Any]:
        """The values as Python objects (``None`` for null, int nanoseconds for time)."""
        if self._values is None:
            self._values = to_python(self._wire_column(), self._type)
        return self._values

    def datetimes(self) -> list[datetime | None]:
        """The values of a time field as aware UTC datetimes (sub-microsecond digits dropped)."""
        if self._type is not FieldType.TIME:
            raise FrameError("datetimes() needs a time field", field=self.name)
        return [
            None if v is None else EPOCH + timedelta(microseconds=v // 1000) for v in self.values
        ]

    def to_arrow(self) -> pyarrow.Array:
        """Return the column as a pyarrow Array of the wire type (zero-copy when possible).

        Needs pyarrow (``pip install 'plutono-plugin[arrow]'``).
        """
        from . import _arrow

        if self._arrow is None:
            self._arrow = _arrow.array_of(self._wire_column(), self._type)
        return self._arrow

    def _wire_column(self) -> Column:
        """The Arrow buffers the encoder writes (built once, then kept)."""
        if self._column is None:
            if self._arrow is not None:
                from . import _arrow

                self._column = _arrow.column_of(self._arrow, self._type)
            else:
                self._column = from_python(self.name, self.values, self._type)
        return self._column

    def __len__(self) -> int:
        return self._length

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Field):
            return NotImplemented
        mine = (self.name, self._type, self._nullable, self._labels, self._config, len(self))
        theirs = (
            other.name,
            other._type,
            other._nullable,
            other._labels,
            other._config,
            len(other),
        )
        return mine == theirs and all(map(_same_value, self.values, other.values))

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        null = "?" if self._nullable else ""
        return f"Field({self.name!r}, {self._type}{null}, rows={self._length})"


def _same_value(left: Any, right: Any) -> bool:
    return bool(left == right) or (left != left and right != right)  # NaN equals NaN here
