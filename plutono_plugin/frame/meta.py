"""Frame-level metadata (``FrameMeta``), typed after SDK v0.88.0 so the Go decoder accepts it.

Contract 4.5: the Go side unmarshals the schema's ``meta`` JSON into its struct; an unknown
notice ``severity`` or a string ``inspect`` fails the whole response. Keys only the frontend
knows (``instant``, ``transformations``, …) are kept in :attr:`FrameMeta.extra`.

Example::

    from plutono_plugin.frame.meta import FrameMeta, Notice

    meta = FrameMeta(
        executed_query_string="SELECT 1",
        notices=[Notice("results truncated", severity="warning")],
    )
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ..errors import FrameError
from .config import FieldConfig, _check_json, _check_str, _expect_mapping, _set, dump_json

__all__ = ("FrameMeta", "InspectType", "Notice", "NoticeSeverity", "QueryStat")

NoticeSeverity = Literal["info", "warning", "error"]
"""The three severities SDK v0.88.0 can decode; any other string fails in Go."""

InspectType = Literal[1, 2, 3, 4]
"""Inspector tab a notice links to: 1 meta, 2 error, 3 data, 4 stats (an int on the wire)."""

_META_KEYS = frozenset({"path", "pathSeparator", "custom", "stats", "notices"})
_META_KEYS |= {"preferredVisualisationType", "executedQueryString"}


@dataclass(frozen=True)
class Notice:
    """A message shown with the frame's panel."""

    text: str
    """The message."""
    severity: NoticeSeverity = "info"
    """``"info"`` (default), ``"warning"`` or ``"error"``; any other string fails in Go."""
    link: str = ""
    """A URL the notice links to (empty: none)."""
    inspect: InspectType | None = None
    """The inspector tab the notice opens: 1 meta, 2 error, 3 data, 4 stats; ``None``: none."""

    def __post_init__(self) -> None:
        _check_str("notice text", self.text)
        _check_str("notice link", self.link)
        if self.severity not in get_args(NoticeSeverity):
            raise FrameError(
                f"notice severity must be 'info', 'warning' or 'error', got {self.severity!r}"
            )
        inspect: object = self.inspect
        if inspect == 0 and not isinstance(inspect, bool):
            _set(self, "inspect", None)  # 0 means "none" and is omitted on the wire
        elif inspect is not None and (
            isinstance(inspect, bool) or not isinstance(inspect, int) or inspect not in (1, 2, 3, 4)
        ):
            # contract 4.5: Go's InspectType is an int with no JSON unmarshaller: "meta" fails.
            raise FrameError(
                f"notice inspect must be an int 1..4 (meta, error, data, stats), got {inspect!r}"
            )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object the SDK decodes."""
        out: dict[str, Any] = {"severity": self.severity, "text": self.text}
        if self.link:
            out["link"] = self.link
        if self.inspect is not None:
            out["inspect"] = self.inspect
        return out

    @classmethod
    def from_json(cls, data: object) -> Notice:
        """Build from ``data``, a decoded JSON object (absent severity = info, as in Go)."""
        obj = _expect_mapping("notice", data)
        return cls(
            text=obj.get("text", ""),
            severity=obj.get("severity", "info"),
            link=obj.get("link", ""),
            inspect=obj.get("inspect"),
        )


@dataclass(frozen=True)
class QueryStat:
    """A statistic about the query (shown in the inspector): a value plus its display config."""

    value: float
    config: FieldConfig = field(default_factory=FieldConfig)

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise FrameError(f"query stat value must be a number, got {self.value!r}")
        if not math.isfinite(self.value):
            raise FrameError(f"query stat value must be finite, got {self.value!r}")
        if not isinstance(self.config, FieldConfig):
            raise FrameError("query stat config must be a FieldConfig")

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object (the config's keys plus ``value``)."""
        return {**self.config.to_json(), "value": self.value}

    @classmethod
    def from_json(cls, data: object) -> QueryStat:
        """Build from a decoded JSON object."""
        obj = dict(_expect_mapping("query stat", data))
        value = obj.pop("value", 0.0)
        return cls(value=value, config=FieldConfig.from_json(obj))


@dataclass(frozen=True)
class FrameMeta:
    """Metadata about a frame: the SDK v0.88.0 ``FrameMeta`` keys plus frontend-only ``extra``.

    Example::

        FrameMeta(custom={"rows": 3}, preferred_visualisation_type="table")
    """

    path: str = ""
    """A browsable path of the frame in the datasource (``path``)."""
    path_separator: str = ""
    """The separator of the parts of ``path`` (``pathSeparator``)."""
    custom: Any = None
    """Datasource-specific values, any JSON value (``custom``); ``None``: unset."""
    stats: Sequence[QueryStat] = ()
    """:class:`QueryStat` values about the query, shown in the inspector's stats tab."""
    notices: Sequence[Notice] = ()
    """:class:`Notice` messages shown with the frame's panel."""
    preferred_visualisation_type: str = ""
    """The panel type suggested for the frame (``"graph"``, ``"table"``, ``"logs"``, ...)."""
    executed_query_string: str = ""
    """The query as the datasource ran it, shown in the query inspector."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Keys only the frontend knows (``instant``, ``transformations``, ...), written as they are."""

    def __post_init__(self) -> None:
        for name in ("path", "path_separator", "preferred_visualisation_type"):
            _check_str(f"meta {name}", getattr(self, name))
        _check_str("meta executed_query_string", self.executed_query_string)
        _check_json("meta custom", self.custom)
        for name, kind in (("stats", QueryStat), ("notices", Notice)):
            items = tuple(getattr(self, name))
            if not all(isinstance(item, kind) for item in items):
                raise FrameError(f"meta {name} must hold {kind.__name__} objects")
            _set(self, name, items)
        extra = dict(_expect_mapping("meta extra", self.extra))
        clash = sorted(_META_KEYS & extra.keys())
        if clash:
            raise FrameError(f"meta extra repeats known keys {clash}; use the attributes")
        _check_json("meta extra", extra)
        _set(self, "extra", extra)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object the SDK writes (unset values omitted)."""
        out: dict[str, Any] = {}
        if self.path:
            out["path"] = self.path
        if self.path_separator:
            out["pathSeparator"] = self.path_separator
        if self.custom is not None:
            out["custom"] = self.custom
        if self.stats:
            out["stats"] = [stat.to_json() for stat in self.stats]
        if self.notices:
            out["notices"] = [notice.to_json() for notice in self.notices]
        if self.preferred_visualisation_type:
            out["preferredVisualisationType"] = self.preferred_visualisation_type
        if self.executed_query_string:
            out["executedQueryString"] = self.executed_query_string
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: object) -> FrameMeta:
        """Build from ``data``, a decoded JSON object, validating every key Go reads."""
        obj = _expect_mapping("frame meta", data)
        stats = obj.get("stats") or []
        notices = obj.get("notices") or []
        if not isinstance(stats, list) or not isinstance(notices, list):
            raise FrameError("meta stats and notices must be JSON arrays")
        return cls(
            path=obj.get("path", ""),
            path_separator=obj.get("pathSeparator", ""),
            custom=obj.get("custom"),
            stats=tuple(map(QueryStat.from_json, stats)),
            notices=tuple(map(Notice.from_json, notices)),
            preferred_visualisation_type=obj.get("preferredVisualisationType", ""),
            executed_query_string=obj.get("executedQueryString", ""),
            extra={key: value for key, value in obj.items() if key not in _META_KEYS},
        )

    def to_text(self) -> str:
        """Return the compact JSON text stored in the schema's ``meta`` key."""
        return dump_json(self.to_json())
