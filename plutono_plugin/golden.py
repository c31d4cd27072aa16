"""Golden responses: compare a query's answer with a stored file, readable table plus Arrow bytes.

A golden file holds, for every refId, its error text, each frame as a text table (all rows,
:meth:`Frame.to_table <plutono_plugin.frame.model.Frame.to_table>`) and the frame's Arrow IPC
bytes (base64). A check fails when either differs: the table diff shows what a reader notices,
the Arrow comparison catches the rest (a float's 7th digit, a type, field config, metadata).
Frames are compared by content, not by the bytes' layout, so a pyarrow upgrade does not churn
the files. Write or refresh files with ``pytest --update-golden`` (or
``PLUTONO_PLUGIN_UPDATE_GOLDEN=1``) and review them like code.

With pytest, the ``golden`` fixture (installed with the package) keeps files next to the test,
in ``golden/<test name>.txt``::

    from plutono_plugin.testing import PluginTestClient, target
    from my_plugin import plugin

    async def test_sine(golden: GoldenFiles) -> None:
        async with PluginTestClient(plugin) as client:
            await golden.check_query(client, target("A", query_type="sine"),
                                     time_range=("1704067200000", "1704070800000"))

Without the fixture, :func:`check_golden` does the same for any path.
"""

from __future__ import annotations

import base64
import difflib
import os
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .frame import Frame

if TYPE_CHECKING:
    from ._host.client import PluginClient, QueryReply, RawQueryReply
    from ._host.requests import TimeLike

__all__ = ("UPDATE_ENV", "GoldenFiles", "GoldenMismatch", "check_golden", "render_golden")

UPDATE_ENV = "PLUTONO_PLUGIN_UPDATE_GOLDEN"
"""Set to ``1`` to write golden files instead of comparing (like ``--update-golden``)."""

_HEADER = "# Golden response, written by plutono-plugin; refresh: pytest --update-golden\n"
_ARROW = "arrow:"
_WIDTH = 100


class GoldenMismatch(AssertionError):
    """The answer differs from the golden file (or there is none); the message shows how."""


def _frames(reply: QueryReply | RawQueryReply) -> list[Frame]:
    return [item if isinstance(item, Frame) else Frame.decode(item) for item in reply.frames]


def render_golden(responses: Mapping[str, QueryReply | RawQueryReply]) -> str:
    """The golden file's text for ``{refId: reply}`` (what :meth:`PluginClient.query` returns)."""
    parts = [_HEADER]
    for ref_id in sorted(responses):
        reply = responses[ref_id]
        frames = _frames(reply)
        parts.append(f"\n## refId {ref_id}: {len(frames)} frame(s), error {reply.error!r}\n")
        for frame in frames:
            parts.append("\n" + frame.to_table(max_rows=None) + "\n")
            if frame.meta is not None:
                parts.append(f"meta: {frame.meta.to_json()}\n")
            data = base64.b64encode(frame.encode()).decode()
            parts.append(_ARROW + "\n" + textwrap.fill(data, _WIDTH, break_on_hyphens=False) + "\n")
    return "".join(parts)


def _stored_frames(text: str) -> list[bytes]:
    """The Arrow bytes of every frame in a golden file, in order."""
    frames: list[bytes] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line == _ARROW:
            chunk = []
            for following in lines[index + 1 :]:
                if not following or following.startswith(("#", " ", "frame ", "meta:")):
                    break
                chunk.append(following)
            frames.append(base64.b64decode("".join(chunk)))
    return frames


def _tables(text: str) -> list[str]:
    """The human part of a golden file: everything but the base64 lines."""
    kept, in_arrow = [], False
    for line in text.splitlines():
        if line == _ARROW:
            in_arrow = True
            continue
        if in_arrow and line and not line.startswith(("#", " ", "frame ", "meta:")):
            continue
        in_arrow = False
        kept.append(line)
    return kept


def _first_difference(old: Frame, new: Frame) -> str:
    if [(f.name, str(f.type), f.labels) for f in old.fields] != [
        (f.name, str(f.type), f.labels) for f in new.fields
    ]:
        return "the fields differ (names, types or labels)"
    for before, after in zip(old.fields, new.fields, strict=True):
        for row, (a, b) in enumerate(zip(before.values, after.values, strict=False)):
            if repr(a) != repr(b):
                return f"field {after.name!r} row {row}: golden {a!r}, now {b!r}"
    return "field config or frame metadata differ"


def _compare(path: Path, stored: str, current: str) -> None:
    old_tables, new_tables = _tables(stored), _tables(current)
    if old_tables != new_tables:
        diff = difflib.unified_diff(old_tables, new_tables, "golden", "now", lineterm="")
        raise GoldenMismatch(
            f"{path} differs (pytest --update-golden rewrites it):\n" + "\n".join(diff)
        )
    old_frames, new_frames = _stored_frames(stored), _stored_frames(current)
    for index, (old, new) in enumerate(zip(old_frames, new_frames, strict=True)):
        before, after = Frame.decode(old), Frame.decode(new)
        # Re-encoding both with this pyarrow compares content, not the writer's byte layout.
        if before.encode() != after.encode():
            raise GoldenMismatch(
                f"{path}: frame {index} has the same table but other Arrow content: "
                f"{_first_difference(before, after)} (pytest --update-golden rewrites it)"
            )


def check_golden(
    path: str | os.PathLike[str],
    responses: Mapping[str, QueryReply | RawQueryReply],
    *,
    update: bool = False,
) -> None:
    """Compare ``responses`` with the golden file at ``path``; with ``update``, write it instead.

    Raises :class:`GoldenMismatch` (an ``AssertionError``) on a difference or a missing file.

    Example::

        responses = await client.query(target("A", query_type="sine"), time_range=(0, 60_000))
        check_golden("tests/golden/sine.txt", responses)
    """
    file = Path(path)
    current = render_golden(responses)
    if update or os.environ.get(UPDATE_ENV) == "1":
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(current, encoding="utf-8")
        return
    if not file.is_file():
        raise GoldenMismatch(f"{file} does not exist: run pytest --update-golden to write it")
    _compare(file, file.read_text(encoding="utf-8"), current)


@dataclass(frozen=True, slots=True)
class GoldenFiles:
    """Golden files of one test (the ``golden`` pytest fixture): ``directory/<name>.txt``."""

    directory: Path
    """Where the files are (the fixture: ``golden/`` beside the test module)."""
    name: str
    """The test's name, the files' stem."""
    update: bool = False
    """Write the files instead of comparing (``pytest --update-golden``)."""

    def path(self, suffix: str = "") -> Path:
        """The file for this test, or for one of its checks (``suffix``)."""
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name + (f"-{suffix}" if suffix else ""))
        return self.directory / f"{stem.strip('_')}.txt"

    def check(self, responses: Mapping[str, QueryReply | RawQueryReply], suffix: str = "") -> None:
        """:func:`check_golden` of ``responses`` against :meth:`path` (``suffix``: one of many)."""
        check_golden(self.path(suffix), responses, update=self.update)

    async def check_query(
        self,
        client: PluginClient,
        *queries: Mapping[str, Any],
        time_range: tuple[TimeLike, TimeLike] | None = None,
        suffix: str = "",
    ) -> None:
        """Run ``queries`` through ``client`` (as sent on the wire) and :meth:`check` the answer.

        ``time_range`` as for :meth:`~plutono_plugin.testing.PluginTestClient.query` (fix it:
        the answer must not depend on the clock); ``suffix`` as for :meth:`check`.
        """
        self.check(await client.query_raw(*queries, time_range=time_range), suffix)
