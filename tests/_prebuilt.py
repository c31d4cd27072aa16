"""Everything slow to prepare is prepared before the first test, outside pytest's 60 s timeout.

pytest-timeout times a test's fixture setup too, so a session fixture that builds a plugin made
whichever test came first wait for the build: on a busy machine or with a cold dependency cache
(each platform's wheels are downloaded once) it ran out of time and every test of the module
errored (issue #17 item 18). Here, once the tests are collected and before any runs
(:func:`prepare` from ``tests/conftest.py``):

* the Go programs of ``tests/interop`` whose binary is older than their source are built and
  the npm packages installed, when a collected test needs them;
* every :class:`Build` a collected test needs runs as ``plutono-plugin build`` in a subprocess
  with its own budget (:data:`BUILD_BUDGET_S`); the session fixtures then only look the result
  up (:func:`prebuilt`). Builds whose output is thrown away warm the dependency cache for the
  tests that build inside themselves (they are what they test), so those copy and link only.

A build that fails or runs out of budget fails the tests that need it, with its output.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from plutono_plugin._build.targets import host_platform
from tests._tools import ROOT, go_binary, node_package

BUILD_BUDGET_S = 1800
"""One build's budget: a cold cache downloads the wheels of six platforms on a shared machine."""
GO_PROGRAMS = ("host", "goref", "framecheck", "goencode")
NODE_PACKAGES = ("arrowjs", "frontend")
PREBUILT = pytest.StashKey[dict[str, Path | str]]()
"""Per fixture name: the built directory, or why it could not be built."""


@dataclass(frozen=True)
class Build:
    """One ``plutono-plugin build`` the suite needs.

    ``fixture`` is the name :func:`prebuilt` looks it up by, the fixture returning it (``""``:
    only warms the cache); ``users`` other fixtures that need it; ``modules`` test files (or
    folders, ending in ``/``) that use it or build the same kind themselves.
    """

    fixture: str
    source: Path
    options: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    users: tuple[str, ...] = ()

    def needed_by(self, fixtures: set[str], paths: set[str]) -> bool:
        """Whether a collected test uses the fixture or sits in one of ``modules``."""
        if {self.fixture, *self.users} & fixtures - {""}:
            return True
        return any(path.startswith(module) for path in paths for module in self.modules)


def _system_python_version() -> str | None:
    found = shutil.which("python3", path="/usr/bin:/bin")
    if found is None:
        return None
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    out = subprocess.run([found, "-c", code], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or None


def builds() -> list[Build]:
    """Every build of the suite, the one the fixture or module does, with the same options."""
    plugins, examples = ROOT / "tests" / "plugins", ROOT / "examples"
    host = ("--platform", host_platform())
    found = [
        # every platform, this Python: also what tests/cli and tests/frontend build from
        Build(
            "quickstart_dir",
            examples / "quickstart",
            (),
            ("tests/cli/", "tests/frontend/", "tests/hostile/", "tests/host/"),
        ),
        Build("host_quickstart_dir", examples / "quickstart", (), ("tests/host/test_host.py",)),
        Build("browser_quickstart", examples / "quickstart", users=("stand_in",)),
        Build("browser_sql", examples / "sql", users=("stand_in",)),
        Build("sql_frontend_dir", examples / "sql"),
        Build("hardening_dir", plugins / "hardening"),
        Build("logheaders_dir", plugins / "logheaders"),
        Build("lifecycle_dir", plugins / "lifecycle"),
        Build("healthonly_dir", plugins / "healthonly"),
        Build("dataplane_dir", plugins / "dataplane"),
        Build("robust_dir", plugins / "robust"),
        Build("sql_dir", examples / "sql"),
        Build(
            "reloadable_dir",
            plugins / "reloadable",
            ("--dev", *host),
            ("tests/runtime/test_reload.py", "tests/cli/test_dev.py"),
        ),
        # the benchmark's plugins (tests/bench/plugins.py), for its smoke test
        Build("", ROOT / "tests" / "bench" / "bigframe", (), ("tests/test_bench_smoke.py",)),
        Build(
            "",
            examples / "quickstart",
            ("--standalone",),
            ("tests/cli/test_standalone.py", "tests/test_bench_smoke.py"),
        ),
    ]
    system = _system_python_version()
    ours = "{}.{}".format(*sys.version_info[:2])
    if system is not None and system != ours:  # tests/cli/test_shipped.py's second version
        versions = ("--python-version", ours, "--python-version", system)
        found.append(Build("", examples / "quickstart", versions, ("tests/cli/test_shipped.py",)))
    return found


def _build(build: Build, output: Path) -> Path | str:
    code = "import sys; from plutono_plugin.cli import main; sys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-c", code, "build", str(build.source), "--out", str(output)]
    try:
        result = subprocess.run(
            [*command, *build.options],
            capture_output=True,
            text=True,
            timeout=BUILD_BUDGET_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"building {build.source} took more than its {BUILD_BUDGET_S} s budget"
    if result.returncode != 0:
        return f"building {build.source} {' '.join(build.options)} failed:\n{result.stderr}"
    return output


def _tool_ready(prepare_one: Callable[[str], Path], name: str) -> None:
    """Run ``go_binary``/``node_package`` now; their failure is the test's to report."""
    with contextlib.suppress(pytest.skip.Exception, pytest.fail.Exception):
        prepare_one(name)


def _module_globals(item: pytest.Item) -> set[str]:
    module = getattr(item, "module", None)
    return set(vars(module)) if module is not None else set()


def prepare(
    items: Sequence[pytest.Item], parent: Path, report: Callable[[str], None]
) -> dict[str, Path | str]:
    """Prepare what ``items`` need under ``parent``; return what :func:`prebuilt` looks up."""
    fixtures = {name for item in items for name in getattr(item, "fixturenames", ())}
    paths = {item.nodeid.split("::", 1)[0] for item in items}
    names = {name for item in items for name in _module_globals(item)}
    go_fixtures = {"go_host_binary", "goref_dir"}
    marked = any(item.get_closest_marker("go") is not None for item in items)
    if (marked or go_fixtures & fixtures or "go_binary" in names) and shutil.which("go"):
        for program in GO_PROGRAMS:
            _tool_ready(go_binary, program)
    if "node_package" in names and shutil.which("npm"):
        for package in NODE_PACKAGES:
            _tool_ready(node_package, package)
    done: dict[str, Path | str] = {}
    for number, build in enumerate(b for b in builds() if b.needed_by(fixtures, paths)):
        began = time.monotonic()
        output = parent / f"{number}-{build.fixture or 'cache'}" / build.source.name
        result = _build(build, output)
        outcome = "failed" if isinstance(result, str) else "built"
        what = " ".join([str(build.source.relative_to(ROOT)), *build.options])
        report(
            f"prebuilt {what}: {outcome} in "
            f"{time.monotonic() - began:.1f} s (outside the per-test timeout)"
        )
        if build.fixture:
            done[build.fixture] = result
    return done


def prebuilt(request: pytest.FixtureRequest, fixture: str) -> Path:
    """The directory :func:`prepare` built for ``fixture`` (built now if it was not)."""
    found = request.config.stash.get(PREBUILT, {}).get(fixture)
    if found is None:  # requested in a way collection cannot see: build within the test
        build = next(build for build in builds() if build.fixture == fixture)
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        found = _build(build, factory.mktemp("plugins") / build.source.name)
    if isinstance(found, str):
        pytest.fail(found, pytrace=False)
    return found
