"""A frame as a small aligned text table (the Go SDK's ``StringTable``), for people to read.

Shared by :meth:`Frame.to_table <plutono_plugin.frame.model.Frame.to_table>`, the dev host's
output and golden files. Cells are shortened for reading (floats to 6 significant digits,
text to 40 characters); the exact values are the Arrow bytes' business.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .._time import EPOCH

if TYPE_CHECKING:
    from .field import Field
    from .model import Frame

__all__ = ("table_lines",)

_MAX_TEXT = 40


def _cell(field: Field, value: Any) -> str:
    if value is None:
        return "null"
    if field.type == "time":
        moment = EPOCH + timedelta(microseconds=int(value) // 1000)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def table_lines(frame: Frame, max_rows: int | None = 5) -> list[str]:
    """Title, then field names, types, labels (if any) and rows; ``max_rows=None``: all rows.

    When rows are left out, the first ``(max_rows + 1) // 2`` and the last ``max_rows // 2``
    are shown around a ``…`` line.
    """
    rows = frame.rows
    title = f"frame {frame.name!r}" + (f" (refId {frame.ref_id})" if frame.ref_id else "")
    lines = [f"{title}: {rows} rows x {len(frame.fields)} fields"]
    if not frame.fields:
        return lines
    if max_rows is None or rows <= max_rows:
        head, tail = rows, 0
    else:
        head, tail = (max_rows + 1) // 2, max_rows // 2
    shown = [*range(head), *range(rows - tail, rows)]
    columns: list[list[str]] = []
    for field in frame.fields:
        labels = ",".join(f"{k}={v}" for k, v in (field.labels or {}).items())
        values = field.values
        cells = [_cell(field, values[index]) for index in shown]
        if head + tail < rows:
            cells.insert(head, "…")
        columns.append([field.name or "(no name)", str(field.type), labels, *cells])
    widths = [max(len(cell) for cell in column) for column in columns]
    with_labels = any(column[2] for column in columns)
    for row in range(len(columns[0])):
        if row == 2 and not with_labels:
            continue
        cells = [column[row].ljust(width) for column, width in zip(columns, widths, strict=True)]
        lines.append("  " + "  ".join(cells).rstrip())
        if row == (2 if with_labels else 1):
            lines.append("  " + "  ".join("-" * width for width in widths))
    return lines
