"""``plutono-plugin new`` writes a project whose tests pass and which builds and runs as written.

The slow steps (the scaffold's own pytest run, a build for this machine) run once, in a session
fixture with its own budget (``timeout(900)`` below, subprocess timeouts inside), never inside
one test's 60 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from plutono_plugin._build.targets import PLATFORMS
from plutono_plugin._host.describe import describe_plugin
from plutono_plugin.cli import main
from plutono_plugin.cli.new import new_project

pytestmark = pytest.mark.timeout(900)

CLI = [sys.executable, "-m", "plutono_plugin"]
SETTINGS = ["--json-data", '{"url": "https://api.example.com"}']
SECRETS = ["--secure-json-data", '{"apiKey": "k"}']


def host_platform() -> str:
    machine = os.uname().machine.replace("x86_64", "amd64").replace("aarch64", "arm64")
    return f"{sys.platform}_{machine}"


@dataclass(frozen=True)
class Scaffold:
    directory: Path
    tests: subprocess.CompletedProcess[str]
    built: Path


def run(arguments: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        arguments, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def scaffold(factory: pytest.TempPathFactory, plugin_type: str) -> Scaffold:
    directory = factory.mktemp("new") / f"acme-weather-{plugin_type}"
    assert main(["new", str(directory), "--type", plugin_type]) == 0
    tests = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], directory)
    built = directory / "build" / "plugin"
    if host_platform() in PLATFORMS:
        command = [*CLI, "build", "src", "--out", str(built), "--platform", host_platform()]
        completed = run(command, directory, timeout=600)
        assert completed.returncode == 0, completed.stderr
    return Scaffold(directory, tests, built)


@pytest.fixture(scope="session")
def datasource(tmp_path_factory: pytest.TempPathFactory) -> Scaffold:
    return scaffold(tmp_path_factory, "datasource")


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Scaffold:
    return scaffold(tmp_path_factory, "app")


def test_datasource_project_has_every_file_and_plugin_json_field(datasource: Scaffold) -> None:
    files = {
        path.relative_to(datasource.directory).as_posix()
        for path in datasource.directory.rglob("*")
    }
    for name in (
        "src/plugin.json",
        "src/plugin.py",
        "src/requirements.txt",
        "pyproject.toml",
        "README.md",
        "tests/test_plugin.py",
        "tests/golden/test_constant_query_matches_its_golden_file.txt",
    ):
        assert name in files
    manifest = json.loads((datasource.directory / "src" / "plugin.json").read_text())
    assert manifest["id"] == "acme-weather-datasource" and manifest["type"] == "datasource"
    assert manifest["backend"] is True and manifest["executable"] == "gpx_acme_weather"
    assert manifest["info"]["version"] == "0.1.0" and manifest["alerting"] is True
    assert manifest["dependencies"]["plutonoVersion"] == "7.5.x"
    pyproject = (datasource.directory / "pyproject.toml").read_text()
    assert '"plutono-plugin[arrow]"' in pyproject
    readme = (datasource.directory / "README.md").read_text()
    assert "plutono-plugin build src --out build/acme-weather-datasource" in readme
    assert "host build/acme-weather-datasource demo --json-data" in readme


def test_datasource_project_tests_pass_as_written(datasource: Scaffold) -> None:
    assert datasource.tests.returncode == 0, datasource.tests.stdout + datasource.tests.stderr
    assert "5 passed" in datasource.tests.stdout


def test_app_project_tests_pass_as_written(app: Scaffold) -> None:
    assert app.tests.returncode == 0, app.tests.stdout + app.tests.stderr
    assert "2 passed" in app.tests.stdout
    assert json.loads((app.directory / "src" / "plugin.json").read_text())["type"] == "app"


def test_the_scaffold_lints_clean(datasource: Scaffold, app: Scaffold) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.is_file():
        pytest.skip("ruff is not installed beside this interpreter")
    for project in (datasource, app):
        for command in (["check", "--select", "E,F,I,UP,B,W", "."], ["format", "--check", "."]):
            completed = run([str(ruff), *command], project.directory)
            assert completed.returncode == 0, completed.stdout


def built_or_skip(project: Scaffold) -> Path:
    if not project.built.is_dir():
        pytest.skip(f"no build for {host_platform()}")
    return project.built


def test_demo_calls_the_plugins_own_query_types_and_resources(datasource: Scaffold) -> None:
    built = built_or_skip(datasource)
    assert describe_plugin(built) == {
        "queryTypes": [{"type": "constant", "model": {"value": 1.0, "points": 10}}],
        "resources": ["regions"],
    }
    completed = run([*CLI, "host", str(built), "demo", *SETTINGS, *SECRETS], datasource.directory)
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout
    assert "health      OK: Ready to query https://api.example.com" in output
    assert '"queryType": "constant"' in output and "10 rows x 2 fields" in output
    assert 'GET regions -> 200 (application/json) ["eu-west","us-east"]' in output
    assert "sine" not in output and "GET ping" not in output


def test_doctor_takes_the_datasource_settings(datasource: Scaffold) -> None:
    built = built_or_skip(datasource)
    without = run([*CLI, "doctor", str(built)], datasource.directory)
    assert without.returncode == 1 and "Set the API key" in without.stdout
    ready = run([*CLI, "doctor", str(built), *SETTINGS, *SECRETS], datasource.directory)
    # (pytest's temporary directories are private to this user: doctor reports those modes)
    assert "health      OK: Ready to query https://api.example.com" in ready.stdout
    assert "CheckHealth" not in ready.stdout
    broken = run([*CLI, "doctor", str(built), "--json-data", "[1]"], datasource.directory)
    assert broken.returncode == 1 and "--json-data must be a JSON object" in broken.stdout


def test_new_refuses_a_non_empty_directory_and_a_bad_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    assert main(["new", str(tmp_path / "taken")]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert main(["new", str(tmp_path / "fresh"), "--id", "Bad Id"]) == 2
    assert "lower-case letters" in capsys.readouterr().err


def test_describe_gives_none_for_a_directory_it_cannot_read(tmp_path: Path) -> None:
    assert describe_plugin(tmp_path) is None
    new_project(tmp_path / "src")  # a source project, not a built directory
    assert describe_plugin(tmp_path / "src") is None


@pytest.fixture(scope="session")
def fallback_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project whose only query handler is the fallback, built for this machine."""
    directory = tmp_path_factory.mktemp("fallback") / "anything"
    new_project(directory)
    source = directory / "src" / "plugin.py"
    source.write_text(source.read_text().replace('@plugin.query("constant")', "@plugin.query()"))
    built = directory / "build" / "plugin"
    if host_platform() in PLATFORMS:
        command = [*CLI, "build", "src", "--out", str(built), "--platform", host_platform()]
        completed = run(command, directory, timeout=600)
        assert completed.returncode == 0, completed.stderr
    return built


def test_describe_offers_the_fallback_as_a_query_without_a_type(fallback_only: Path) -> None:
    if not fallback_only.is_dir():
        pytest.skip(f"no build for {host_platform()}")
    described = describe_plugin(fallback_only)
    assert described is not None
    assert described["queryTypes"] == [{"type": "", "model": {"value": 1.0, "points": 10}}]
