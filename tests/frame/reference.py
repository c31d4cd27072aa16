"""The row-by-row long → wide conversion the package shipped before issue #12, kept as a reference.

``tests/frame/test_reshape.py`` checks the vectorised conversion against it on random frames, and
``make bench`` times both side by side (the speedup figure in docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

from plutono_plugin.frame import Field, FieldType, Frame

_FACTOR_TYPES = (FieldType.STRING, FieldType.BOOL)


def row_loop_long_to_wide(frame: Frame) -> list[Field]:
    """The old ``Frame.to_wide()`` loop, for valid long frames only (no input checks)."""
    time_index = next(i for i, f in enumerate(frame.fields) if f.type is FieldType.TIME)
    time_field = frame.fields[time_index]
    factors = [field for field in frame.fields if field.type in _FACTOR_TYPES]
    keys = [field.name for field in factors]
    value_fields = [
        field
        for index, field in enumerate(frame.fields)
        if index != time_index and field.type not in _FACTOR_TYPES
    ]
    times = time_field.values
    factor_values = [[_label_value(value) for value in field.values] for field in factors]
    order = sorted(range(frame.rows), key=times.__getitem__)
    row_of_time: dict[int, int] = {}
    cells: dict[tuple[int, tuple[str, ...]], dict[int, Any]] = {}
    for row in order:
        wide_row = row_of_time.setdefault(times[row], len(row_of_time))
        labels = tuple(values[row] for values in factor_values)
        for number, field in enumerate(value_fields):
            cells.setdefault((number, labels), {})[wide_row] = field.values[row]
    series = sorted(cells, key=lambda key: (value_fields[key[0]].name, key[1]))
    wide_fields = [
        Field(time_field.name, list(row_of_time), type=FieldType.TIME, config=time_field.config)
    ]
    for number, labels in series:
        source = value_fields[number]
        column = cells[number, labels]
        values = [column.get(row) for row in range(len(row_of_time))]
        wide_fields.append(
            Field(
                source.name,
                values,
                type=source.type,
                nullable=source.nullable or any(value is None for value in values),
                labels=dict(zip(keys, labels, strict=True)),
                config=source.config,
            )
        )
    return wide_fields


def _label_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
