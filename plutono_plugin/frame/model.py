"""The :class:`Frame`: a table answering one query (contract section 4).

A frame is a name, a ``ref_id``, optional :class:`~plutono_plugin.frame.meta.FrameMeta` and a
list of equally long :class:`~plutono_plugin.frame.field.Field` columns; duplicate field names
are legal. Arrow encoding (no Arrow library) and the time-series helpers live in private
modules that this one imports only when needed. Decoding, pyarrow/pandas/polars conversions
and the reshape helpers need the optional ``arrow``, ``pandas`` or ``polars`` extra and say so
with a :class:`~plutono_plugin.errors.ConfigurationError` when it is missing.

Example::

    from plutono_plugin.frame import Field, Frame

    frame = Frame("cpu", [Field("time", [1704067200_000000000]), Field("value", [0.5])])
    payload = frame.encode()  # Arrow IPC file bytes, as Plutono 7.5 reads them
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any

from ..errors import FrameError
from ._extras import require
from .field import Field
from .meta import FrameMeta
from .types import TimeSeriesType

if TYPE_CHECKING:
    import pandas
    import pyarrow

    from ._arrow import FrameParts
    from ._reshape import FillMode
    from ._rows import Converter, DecimalMode
    from .types import FieldType

__all__ = ("Frame",)


@dataclass(eq=True)
class Frame:
    """A table answering one query: named, equally long :class:`Field` columns.

    ``ref_id`` may be left empty; the query dispatcher fills it with the query's refId
    (contract 4.2). ``meta`` accepts a :class:`FrameMeta` or its JSON object.

    Example::

        frame = Frame("requests", [Field("time", times), Field("count", counts)])
        frame.encode()                       # bytes for DataResponse.frames
        Frame.decode(frame.encode()) == frame  # True
    """

    name: str = ""
    """The frame's name (panels show it, e.g. as the series name of a single-field frame)."""
    fields: list[Field] = dataclass_field(default_factory=list)
    """The columns, all equally long (:meth:`validate`)."""
    ref_id: str = ""
    """The refId of the query it answers; empty: filled in by the query dispatcher."""
    meta: FrameMeta | None = None
    """Frame metadata (notices, executed query, ...): a :class:`FrameMeta` or its JSON object."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not isinstance(self.ref_id, str):
            raise FrameError("frame name and ref_id must be str")
        self.fields = list(self.fields)
        for item in self.fields:
            if not isinstance(item, Field):
                raise FrameError(
                    f"fields must be Field objects, got {type(item).__name__}", frame=self.name
                )
        meta: object = self.meta  # a JSON object is accepted too
        if meta is not None and not isinstance(meta, FrameMeta):
            try:
                self.meta = FrameMeta.from_json(meta)
            except FrameError as exc:
                raise FrameError(exc.reason, frame=self.name) from None

    @property
    def rows(self) -> int:
        """Number of rows of the first field (0 without fields); see :meth:`validate`."""
        return len(self.fields[0]) if self.fields else 0

    def field(self, name: str) -> Field:
        """Return the first field called ``name``."""
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(name)

    def to_table(self, max_rows: int | None = 5) -> str:
        """The frame as an aligned text table, like the Go SDK's ``StringTable``.

        ``max_rows`` rows at most (the first and the last ones); ``None`` shows all. ``str()``
        of a frame is this table.

        Example::

            print(Frame("cpu", [Field("value", [0.5, 0.25])]).to_table())
            # frame 'cpu': 2 rows x 1 fields
            #   value
            #   float64
            #   -------
            #   0.5
            #   0.25
        """
        from ._table import table_lines

        return "\n".join(table_lines(self, max_rows))

    def __str__(self) -> str:
        return self.to_table()

    def validate(self) -> None:
        """Check cheaply that the frame can be encoded: equal lengths and typed parts."""
        for item in self.fields:
            if len(item) != self.rows:
                raise FrameError(
                    f"has {len(item)} rows but field {self.fields[0].name!r} has {self.rows}; "
                    "all fields of a frame must be equally long",
                    field=item.name,
                    frame=self.name,
                )

    def encode(self) -> bytes:
        """Encode as one Arrow IPC file (metadata V4, uncompressed), as Plutono reads it."""
        from ._ipc import encode_frame

        return encode_frame(self)

    @classmethod
    def decode(cls, data: bytes) -> Frame:
        """Decode ``data``, Arrow IPC bytes (file or stream format), into a frame.

        Needs ``plutono-plugin[arrow]`` (the test kit and dev host have it).
        """
        require("Frame.decode()")
        from ._arrow import decode_parts

        return cls._from_parts(decode_parts(data))

    @classmethod
    def from_dict(
        cls, columns: Mapping[str, Iterable[Any]], name: str = "", *, ref_id: str = ""
    ) -> Frame:
        """Build a frame from ``columns``, ``{field name: values}``, with inferred types.

        ``name`` and ``ref_id`` become the frame's name and refId.
        """
        return cls(name, [Field(key, values) for key, values in columns.items()], ref_id=ref_id)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Any],
        name: str = "",
        *,
        columns: Sequence[str] | None = None,
        time_columns: Sequence[str] = (),
        converters: Mapping[str, Converter] | None = None,
        types: Mapping[str, FieldType | str] | None = None,
        decimal: DecimalMode = "float",
        limit: int | None = None,
        ref_id: str = "",
    ) -> Frame:
        """Build a frame from database rows: a DB-API cursor, dicts, or tuples with ``columns``.

        Decimals become float64 (or text with ``decimal="string"``), dates and datetimes
        times, ``None`` nulls; ``time_columns`` are read as time (datetimes, ISO text or epoch
        seconds); ``limit`` keeps the first rows and adds a warning notice when it cuts.

        Example::

            cursor = connection.execute("SELECT time, host, cpu FROM metrics")
            frame = Frame.from_rows(cursor, "metrics", time_columns=["time"], limit=10_000)

        Args:
            rows: a DB-API cursor (its ``description`` names the columns), dicts, or
                tuples/lists.
            name: the frame's name.
            columns: the column names: needed for tuples without a cursor; it overrides a
                cursor's names and picks (and orders) the keys of dict rows.
            time_columns: columns read as time (datetimes, ISO text or epoch seconds).
            converters: ``{column: function}``, applied to every non-null value of that
                column before the standard conversions.
            types: ``{column: FieldType or its name}`` forcing a column's field type (e.g.
                for an empty result, whose columns are otherwise nullable float64).
            decimal: ``"float"`` (default, may round) or ``"string"`` (exact text) for
                ``decimal.Decimal`` values.
            limit: keep at most this many rows (``None``: all).
            ref_id: the frame's refId (empty: filled in by the query dispatcher).

        """
        from ._rows import RowOptions, frame_from_rows

        options = RowOptions(columns, time_columns, converters or {}, types or {}, decimal, limit)
        fields, meta = frame_from_rows(rows, name, options)
        return cls(name, fields, ref_id=ref_id, meta=meta)

    @classmethod
    def from_arrow(cls, table: pyarrow.Table, name: str = "", *, ref_id: str = "") -> Frame:
        """Build a frame from ``table``, a pyarrow Table or RecordBatch (converted losslessly).

        ``name`` and ``ref_id`` default to the ``name``/``refId`` of the schema's Plutono
        metadata, when present. Needs ``plutono-plugin[arrow]``.
        """
        require("Frame.from_arrow()")
        from ._arrow import table_parts

        return cls._from_parts(table_parts(table, name, ref_id))

    @classmethod
    def from_pandas(
        cls, data: pandas.DataFrame, name: str = "", *, ref_id: str = "", index: bool | None = None
    ) -> Frame:
        """Build a frame named ``name`` (refId ``ref_id``) from ``data``, a pandas DataFrame.

        NaN/NaT/NA become nulls.

        The index becomes the first field when ``index`` is true, or by default when it is
        not a plain ``RangeIndex`` (e.g. a ``DatetimeIndex``); it is named after the index or
        ``"time"``/``"index"``. Needs ``plutono-plugin[pandas]``.
        """
        require("Frame.from_pandas()", "pandas")
        fields: list[Field] = []
        if index if index is not None else type(data.index).__name__ != "RangeIndex":
            is_time = str(data.index.dtype).startswith("datetime64")
            label = data.index.name or ("time" if is_time else "index")
            fields.append(Field(str(label), data.index))
        for position, column in enumerate(data.columns):
            fields.append(Field(str(column), data.iloc[:, position]))
        return cls(name, fields, ref_id=ref_id)

    @classmethod
    def from_polars(cls, data: Any, name: str = "", *, ref_id: str = "") -> Frame:
        """Build a frame from ``data``, a polars DataFrame (through Arrow, no Python objects).

        ``name`` and ``ref_id`` become the frame's name and refId. Needs ``plutono-plugin[polars]``.
        """
        require("Frame.from_polars()", "polars")
        return cls(
            name, [Field(series.name, series) for series in data.iter_columns()], ref_id=ref_id
        )

    def to_arrow(self) -> pyarrow.Table:
        """Return a pyarrow Table with the wire schema, including Plutono's metadata.

        Needs ``plutono-plugin[arrow]``.
        """
        require("Frame.to_arrow()")
        from ._arrow import frame_to_table

        return frame_to_table(self)

    def to_pandas(self) -> pandas.DataFrame:
        """Return a pandas DataFrame (time fields as naive UTC ``datetime64[ns]``).

        Needs ``plutono-plugin[pandas]``.
        """
        require("Frame.to_pandas()", "pandas")
        table: Any = self.to_arrow()
        result: pandas.DataFrame = table.to_pandas()
        return result

    @property
    def time_series_type(self) -> TimeSeriesType:
        """``"wide"``, ``"long"`` or ``"not"``: how SDK v0.88.0 classifies this frame."""
        from ._timeseries import time_series_type

        return time_series_type(self.fields)

    def check_time_series(self) -> None:
        """Raise :class:`FrameError` unless alerting can use this frame (contract 2.4.2)."""
        from ._timeseries import check_alerting

        check_alerting(self)

    def to_wide(self, fill: FillMode = "null", value: float | None = None) -> Frame:
        """Convert a long time series (string/bool columns) to a wide one with labels.

        Like SDK v0.88.0 ``data.LongToWide``; cells without a row are filled by ``fill``:
        ``"null"``, ``"previous"`` (the previous time's value) or ``"value"`` (``value``).

        Example::

            long = Frame("cpu", [Field("time", [t0, t0]), Field("host", ["a", "b"]),
                                 Field("cpu", [0.5, 0.7])])
            long.to_wide().fields  # time, cpu {host=a}, cpu {host=b}

        Needs ``plutono-plugin[arrow]``.
        """
        require("Frame.to_wide()")
        from ._reshape import long_to_wide

        fields = long_to_wide(self, fill, value)
        return Frame(self.name, fields, ref_id=self.ref_id, meta=self.meta)

    def to_long(self) -> Frame:
        """Convert a wide time series to a long one (labels become string fields).

        Like SDK v0.88.0 ``data.WideToLong``: time, value fields by name, label fields by key.

        Needs ``plutono-plugin[arrow]``.
        """
        require("Frame.to_long()")
        from ._reshape import wide_to_long

        return Frame(self.name, wide_to_long(self), ref_id=self.ref_id, meta=self.meta)

    def fill_missing(self, mode: FillMode, value: float | None = None) -> Frame:
        """A copy with the nulls of numeric fields filled as ``mode`` says.

        ``mode`` is ``"previous"`` (carry the last non-null value forward; leading nulls stay
        null), ``"value"`` (write ``value``, truncated for integer fields) or ``"null"`` (no
        change). Time, string and bool fields are untouched. Needs ``plutono-plugin[arrow]``.
        """
        require("Frame.fill_missing()")
        from ._reshape import fill_missing

        return Frame(self.name, fill_missing(self, mode, value), ref_id=self.ref_id, meta=self.meta)

    def sort_wide_fields(self, *keys: str) -> Frame:
        """A copy of a wide frame with its fields in SDK ``SortWideFrameFields`` order.

        Time first, then by name, then by the values of the label ``keys`` (or the labels'
        text without keys).

        Needs ``plutono-plugin[arrow]``.
        """
        require("Frame.sort_wide_fields()")
        from ._reshape import sort_wide_fields

        fields = sort_wide_fields(self, *keys)
        return Frame(self.name, fields, ref_id=self.ref_id, meta=self.meta)

    @classmethod
    def _from_parts(cls, parts: FrameParts) -> Frame:
        try:
            meta = None if parts.meta is None else FrameMeta.from_json(parts.meta)
        except FrameError as exc:
            raise FrameError(exc.reason, frame=parts.name) from None
        fields = []
        for part in parts.fields:
            try:
                fields.append(
                    Field(
                        part.name,
                        part.column,
                        nullable=part.nullable,
                        labels=part.labels,
                        config=part.config,
                    )
                )
            except FrameError as exc:
                raise FrameError(
                    exc.reason, field=exc.field or part.name, frame=parts.name
                ) from None
        return cls(parts.name, fields, ref_id=parts.ref_id, meta=meta)

    def __repr__(self) -> str:
        fields = ", ".join(map(repr, self.fields))
        return f"Frame({self.name!r}, ref_id={self.ref_id!r}, rows={self.rows}, fields=[{fields}])"
