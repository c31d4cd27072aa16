"""Golden responses: stored table + Arrow, the ``golden`` fixture, and changes they catch."""

from __future__ import annotations

from pathlib import Path

import pytest

from plutono_plugin import Field, Frame
from plutono_plugin.golden import GoldenFiles, GoldenMismatch, check_golden
from plutono_plugin.testing import PluginTestClient, QueryReply, target
from tests._tools import load_example

pytest_plugins = ["pytester"]
HOUR = ("1704067200000", "1704070800000")


def answer(value: float) -> dict[str, QueryReply]:
    frame = Frame("m", [Field("time", [1704067200_000000000], type="time"), Field("v", [value])])
    return {"A": QueryReply([frame], "")}


def test_table_and_arrow_are_stored_and_an_identical_answer_passes(tmp_path: Path) -> None:
    path = tmp_path / "golden" / "m.txt"
    check_golden(path, answer(0.5), update=True)
    text = path.read_text()
    assert "## refId A: 1 frame(s), error ''" in text
    assert "2024-01-01 00:00:00.000  0.5" in text and "\narrow:\n" in text
    check_golden(path, answer(0.5))


def test_a_changed_value_fails_with_a_table_diff(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    check_golden(path, answer(0.5), update=True)
    with pytest.raises(GoldenMismatch) as caught:
        check_golden(path, answer(0.75))
    message = str(caught.value)
    assert "-  2024-01-01 00:00:00.000  0.5" in message
    assert "+  2024-01-01 00:00:00.000  0.75" in message


def test_a_change_the_table_cannot_show_is_caught_by_the_arrow_bytes(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    check_golden(path, answer(0.5), update=True)
    with pytest.raises(GoldenMismatch, match=r"field 'v' row 0: golden 0.5, now 0.5000001"):
        check_golden(path, answer(0.5000001))


def test_a_missing_file_or_error_text_change_fails(tmp_path: Path) -> None:
    with pytest.raises(GoldenMismatch, match="does not exist: run pytest --update-golden"):
        check_golden(tmp_path / "none.txt", answer(1.0))
    path = tmp_path / "e.txt"
    check_golden(path, {"A": QueryReply([], "boom")}, update=True)
    with pytest.raises(GoldenMismatch, match="error 'bang'"):
        check_golden(path, {"A": QueryReply([], "bang")})


def test_file_names_come_from_the_test_name(tmp_path: Path) -> None:
    files = GoldenFiles(tmp_path, "test_x[a/b]")
    assert files.path() == tmp_path / "test_x_a_b.txt"
    assert files.path("second") == tmp_path / "test_x_a_b_-second.txt"


async def test_quickstart_sine_matches_its_golden_file(golden: GoldenFiles) -> None:
    async with PluginTestClient(load_example().plugin) as client:
        await golden.check_query(
            client, target("A", query_type="sine", maxDataPoints=12), time_range=HOUR
        )
    assert golden.path().is_file()


def test_fixture_and_update_flag_in_a_plugin_authors_project(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_author="""
        from plutono_plugin import Field, Frame, Plugin, Query
        from plutono_plugin.testing import PluginTestClient, target
        import os

        plugin = Plugin()

        @plugin.query("")
        async def answer(query: Query) -> Frame:
            return Frame("x", [Field("v", [int(os.environ.get("VALUE", "1"))])])

        async def test_answer(golden):
            async with PluginTestClient(plugin) as client:
                await golden.check_query(client, target("A"))
        """
    )
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.runpytest().assert_outcomes(failed=1)  # no golden file yet
    pytester.runpytest("--update-golden").assert_outcomes(passed=1)
    assert (pytester.path / "golden" / "test_answer.txt").is_file()
    pytester.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("VALUE", "2")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*+  2*"])


def test_frame_prints_as_a_table_with_first_and_last_rows() -> None:
    frame = Frame("cpu", [Field("v", list(range(10)), labels={"host": "a"})], ref_id="B")
    lines = str(frame).splitlines()
    assert lines[0] == "frame 'cpu' (refId B): 10 rows x 1 fields"
    assert [line.strip() for line in lines[1:]] == [
        "v",
        "int64",
        "host=a",
        "------",
        "0",
        "1",
        "2",
        "…",
        "8",
        "9",
    ]
    assert len(frame.to_table(max_rows=None).splitlines()) == 4 + 10 + 1
