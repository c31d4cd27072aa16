"""pyarrow, numpy, pandas and polars are optional (issue #19): serving needs none of them.

Each test runs a fresh interpreter, because this one has them all loaded. Absence is simulated
with ``sys.modules[name] = None``, which makes ``import name`` raise ImportError exactly as
on a server where the package was never installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests._tools import ROOT

OPTIONAL = ("pyarrow", "numpy", "pandas", "polars")

SERVE_QUICKSTART = """
import asyncio, importlib.util, json, sys

import plutono_plugin
from plutono_plugin.testing import PluginTestClient, target

spec = importlib.util.spec_from_file_location("quickstart", "examples/quickstart/plugin.py")
quickstart = sys.modules["quickstart"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(quickstart)

async def main():
    async with PluginTestClient(quickstart.plugin) as client:
        replies = await client.query_raw(
            target("A", query_type="sine"), target("B", query_type="table")
        )
    return {ref: [r.error, [bytes(f[:6]).decode() for f in r.frames]] for ref, r in replies.items()}

answers = asyncio.run(main())
print(json.dumps({"answers": answers, "loaded": sorted(set(sys.modules) & set(OPTIONAL))}))
"""


def _python(script: str, blocked: tuple[str, ...] = ()) -> dict[str, object]:
    prelude = f"import sys\nOPTIONAL = {OPTIONAL!r}\n"
    prelude += f"for name in {blocked!r}:\n    sys.modules[name] = None\n"
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return output


def test_serving_a_quickstart_query_imports_no_arrow_numpy_or_pandas() -> None:
    seen = _python(SERVE_QUICKSTART)
    assert seen["answers"] == {"A": ["", ["ARROW1"]], "B": ["", ["ARROW1"]]}
    assert seen["loaded"] == []


def test_serving_works_when_the_optional_packages_are_absent() -> None:
    seen = _python(SERVE_QUICKSTART, blocked=OPTIONAL)
    assert seen["answers"] == {"A": ["", ["ARROW1"]], "B": ["", ["ARROW1"]]}


MISSING = """
import json
from plutono_plugin.errors import ConfigurationError
from plutono_plugin.frame import Field, Frame

frame = Frame("f", [Field("time", [1, 2], type="time"), Field("v", [1.0, None])])
payload = frame.encode()

class Columnar:  # stands in for a pandas/polars object: only its module name is looked at
    pass

messages = {}
calls = {
    "decode": lambda: Frame.decode(payload),
    "to_arrow": frame.to_arrow,
    "to_pandas": frame.to_pandas,
    "to_wide": frame.to_wide,
    "to_long": frame.to_long,
    "fill_missing": lambda: frame.fill_missing("previous"),
    "from_pandas": lambda: Frame.from_pandas(object()),
    "from_polars": lambda: Frame.from_polars(object()),
}
for key, call in calls.items():
    try:
        call()
    except ConfigurationError as exc:
        messages[key] = str(exc)
for kind in ("pandas", "polars"):
    Columnar.__module__ = kind + ".core.series"
    try:
        Field("x", Columnar())
    except ConfigurationError as exc:
        messages["field from " + kind] = str(exc)
print(json.dumps(messages))
"""


def test_operations_needing_an_extra_name_it_when_it_is_missing() -> None:
    messages = _python(MISSING, blocked=OPTIONAL)
    arrow = "needs pyarrow, which is not installed: install plutono-plugin[arrow]"
    for key in ("decode", "to_arrow", "to_wide", "to_long", "fill_missing"):
        assert arrow in str(messages[key]), key
    assert str(messages["decode"]).startswith("Frame.decode() needs pyarrow")
    assert "needs pandas, which is not installed: install plutono-plugin[pandas]" in str(
        messages["from_pandas"]
    )
    assert "plutono-plugin[pandas]" in str(messages["to_pandas"])
    assert "plutono-plugin[polars]" in str(messages["from_polars"])
    assert "a pandas column (field 'x') needs pandas" in str(messages["field from pandas"])
    assert "plutono-plugin[polars]" in str(messages["field from polars"])


def test_pandas_without_pyarrow_names_the_pandas_extra() -> None:
    messages = _python(MISSING, blocked=("pyarrow",))
    assert "Frame.from_pandas() needs pyarrow, which is not installed: install " in str(
        messages["from_pandas"]
    )
    assert "plutono-plugin[pandas]" in str(messages["from_pandas"])


NUMPY_ONLY = """
import json, sys
import numpy as np
from plutono_plugin.frame import Field, Frame

times = np.arange(3, dtype="int64").astype("datetime64[s]")
frame = Frame("n", [Field("time", times), Field("v", np.ma.masked_invalid([0.5, np.nan, 2.0]))])
payload = frame.encode()
loaded = sys.modules.get("pyarrow") is not None
print(json.dumps({"size": len(payload), "values": frame.fields[1].values, "pyarrow": loaded}))
"""


def test_numpy_frames_are_written_without_pyarrow() -> None:
    seen = _python(NUMPY_ONLY, blocked=("pyarrow", "pandas", "polars"))
    assert seen["values"] == [0.5, None, 2.0]
    assert seen["pyarrow"] is False and isinstance(seen["size"], int)


def test_a_plugin_requiring_pandas_or_polars_ships_pyarrow_with_it(tmp_path: Path) -> None:
    from plutono_plugin._build.resolve import Requirements

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("httpx\n")
    assert not any(line.startswith("pyarrow") for line in Requirements(requirements).framework)
    for name in ("pandas>=2", "polars"):
        requirements.write_text(f"{name}\n")
        framework = Requirements(requirements).framework
        assert any(line.startswith("pyarrow") for line in framework), name
