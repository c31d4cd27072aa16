"""The bulk fast path for plain Python columns encodes to the very bytes of the general path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from plutono_plugin.frame import Field, Frame
from plutono_plugin.frame import field as field_module
from plutono_plugin.frame._fastpath import fast_type, fast_values

START = datetime(2024, 1, 1, tzinfo=UTC)

COLUMNS: dict[str, tuple[list[Any], str | None]] = {
    "floats": ([0.5, -1.25, float("inf"), 1e300], None),
    "strings": (["a", "", "ünïcode", "x" * 300], None),
    "bools": ([True, False, False, True], None),
    "aware datetimes": ([START + timedelta(microseconds=n * 1_001) for n in range(4)], None),
    "int nanoseconds as time": ([1, 2**62, -(2**62), 0], "time"),
    "ints as int64": ([1, -(2**63), 2**63 - 1, 0], "int64"),
    "floats as float64": ([1.0, 2.0, 3.5, -0.0], "float64"),
}


def encoded(values: list[Any], field_type: str | None) -> bytes:
    return Frame("f", [Field("v", list(values), type=field_type)], ref_id="A").encode()


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_fast_and_general_paths_write_the_same_arrow_bytes(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    values, field_type = COLUMNS[name]
    taken: list[bool] = []

    def spy_type(items: list[Any]) -> str | None:
        result = fast_type(items)
        taken.append(result is not None)
        return result

    def spy_values(kind: str, items: list[Any]) -> list[Any] | None:
        result = fast_values(kind, items)
        taken.append(result is not None)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(field_module, "fast_type", spy_type)
        patch.setattr(field_module, "fast_values", spy_values)
        fast = encoded(values, field_type)
    assert True in taken, f"{name}: the fast path was not taken, the test proves nothing"
    with monkeypatch.context() as patch:
        patch.setattr(field_module, "fast_type", lambda items: None)
        patch.setattr(field_module, "fast_values", lambda kind, items: None)
        general = encoded(values, field_type)
    assert fast == general
    assert Frame.decode(fast) == Frame.decode(general)
