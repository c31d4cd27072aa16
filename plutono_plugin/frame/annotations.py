"""Annotation frames: events shown on graphs, in the field names Plutono's frontend reads.

Plutono 7.5's frontend turns frames into annotations by field name
(``standardAnnotationSupport.ts`` ``annotationEventNames``): ``time`` (or the first time field),
``timeEnd`` (makes it a region), ``title``, ``text`` (or the first string field) and ``tags``,
a string **split on commas** — Arrow lists are not a type SDK v0.88.0 can carry (contract 4.4),
so tags travel as ``"deploy,web"``.

Example::

    from plutono_plugin.frame.annotations import Annotation, annotations_frame

    frame = annotations_frame(
        [Annotation(time=deployed_at, title="deploy", text="v1.2", tags=("deploy", "web"))]
    )
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import FrameError
from .field import Field
from .model import Frame
from .types import FieldType

__all__ = ("Annotation", "annotations_frame")


@dataclass(frozen=True)
class Annotation:
    """One event: a time (or a region up to ``time_end``), a title, a text and tags.

    Times are aware datetimes (naive means UTC) or int epoch nanoseconds, as in fields.
    """

    time: datetime | int
    time_end: datetime | int | None = None
    title: str = ""
    text: str = ""
    tags: Sequence[str] = ()

    def __post_init__(self) -> None:
        if isinstance(self.tags, str):
            raise FrameError(f"annotation tags must be a sequence of str, got {self.tags!r}")
        for tag in self.tags:
            if not isinstance(tag, str) or "," in tag:
                raise FrameError(
                    f"annotation tag {tag!r} must be a str without commas "
                    "(the frontend splits tags on commas)"
                )


def _annotation(item: Annotation | Mapping[str, Any]) -> Annotation:
    if isinstance(item, Annotation):
        return item
    if isinstance(item, Mapping):
        known = {"time", "time_end", "timeEnd", "title", "text", "tags"}
        unknown = sorted(set(item) - known)
        if unknown or "time" not in item:
            raise FrameError(
                f"an annotation needs 'time' and may have {sorted(known - {'time'})}; "
                f"got keys {sorted(item)}"
            )
        tags = item.get("tags") or ()
        if isinstance(tags, str):
            tags = [tag.strip() for tag in tags.split(",") if tag.strip()]
        return Annotation(
            time=item["time"],
            time_end=item.get("time_end", item.get("timeEnd")),
            title=item.get("title") or "",
            text=item.get("text") or "",
            tags=tuple(tags),
        )
    raise FrameError(f"an annotation must be an Annotation or a mapping, got {item!r}")


def annotations_frame(
    events: Iterable[Annotation | Mapping[str, Any]], name: str = "annotations", *, ref_id: str = ""
) -> Frame:
    """A frame of ``events``: ``time``, ``timeEnd``, ``title``, ``text``, ``tags``.

    ``timeEnd`` is written only when some event has one; ``tags`` are comma-joined.
    Mappings with the same keys (``timeEnd`` or ``time_end``; tags as a list or a
    comma-separated string) are accepted, e.g. rows from a database. The frame is called
    ``name`` (default ``"annotations"``) and carries ``ref_id`` (empty: filled in by the query
    dispatcher).
    """
    items = [_annotation(event) for event in events]
    fields = [Field("time", [item.time for item in items], type=FieldType.TIME)]
    if any(item.time_end is not None for item in items):
        fields.append(Field("timeEnd", [item.time_end for item in items], type=FieldType.TIME))
    fields += [
        Field("title", [item.title for item in items], type=FieldType.STRING),
        Field("text", [item.text for item in items], type=FieldType.STRING),
        Field("tags", [",".join(item.tags) for item in items], type=FieldType.STRING),
    ]
    return Frame(name, fields, ref_id=ref_id)
