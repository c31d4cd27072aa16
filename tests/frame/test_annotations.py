"""Annotation frames in the field names Plutono 7.5's frontend reads, decoded by arrow-js 0.16."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from plutono_plugin.errors import FrameError
from plutono_plugin.frame import FieldType
from plutono_plugin.frame.annotations import Annotation, annotations_frame
from tests._tools import node_package

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def test_fields_are_the_ones_the_frontend_reads() -> None:
    frame = annotations_frame(
        [
            Annotation(time=T0, title="deploy", text="v1.2", tags=("deploy", "web")),
            {
                "time": T0 + dt.timedelta(hours=1),
                "timeEnd": T0 + dt.timedelta(hours=2),
                "title": "outage",
                "tags": "incident, db",
            },
        ]
    )
    assert [(f.name, f.type) for f in frame.fields] == [
        ("time", FieldType.TIME),
        ("timeEnd", FieldType.TIME),
        ("title", FieldType.STRING),
        ("text", FieldType.STRING),
        ("tags", FieldType.STRING),
    ]
    assert frame.field("tags").values == ["deploy,web", "incident,db"]  # split on "," in the UI
    assert frame.field("timeEnd").values[0] is None


def test_point_events_have_no_time_end_field() -> None:
    frame = annotations_frame([Annotation(time=T0)])
    assert "timeEnd" not in [f.name for f in frame.fields]


def test_bad_events_are_refused() -> None:
    with pytest.raises(FrameError, match="without commas"):
        Annotation(time=T0, tags=("a,b",))
    with pytest.raises(FrameError, match="sequence of str"):
        Annotation(time=T0, tags="a")
    with pytest.raises(FrameError, match="needs 'time'"):
        annotations_frame([{"title": "no time"}])


@pytest.mark.node
def test_arrow_js_reads_the_annotation_fields(tmp_path: Path) -> None:
    frame = annotations_frame([Annotation(time=T0, title="deploy", text="v1", tags=("a", "b"))])
    path = tmp_path / "annotations.arrow"
    path.write_bytes(frame.encode())
    out = subprocess.run(
        ["node", "decode.js"],
        input=json.dumps([str(path)]),
        cwd=node_package("arrowjs"),
        capture_output=True,
        text=True,
        check=True,
    )
    [view] = json.loads(out.stdout)
    fields = {field["name"]: field for field in view["fields"]}
    assert list(fields) == ["time", "title", "text", "tags"]
    assert fields["tags"]["values"] == ["a,b"]
    assert fields["title"]["values"] == ["deploy"]
