"""``plutono-plugin build`` refuses, with the problem named, a plugin that could not start."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from plutono_plugin._build.targets import host_platform
from plutono_plugin.cli import main
from tests._tools import ROOT, skip_or_fail
from tests.cli.test_main import GOOD
from tests.hostile.test_build import fake_build


def source_with(folder: Path, code: str, *, name: str = "plugin.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.json").write_text(json.dumps(GOOD))
    (folder / name).write_text(code)
    return folder


@pytest.mark.parametrize(
    ("code", "entry", "message"),
    [
        (
            "from plutono_plugin import Plugin\nplugin = Plugin(\n",
            "plugin:plugin",
            "plugin.py:2 does not compile",
        ),
        (
            "import not_installed_anywhere\n",
            "plugin:plugin",
            "does not import: ModuleNotFoundError: No module named 'not_installed_anywhere'",
        ),
        (
            "raise RuntimeError('no config at import time')\n",
            "plugin:plugin",
            "does not import: RuntimeError: no config at import time",
        ),
        ("plugin = object()\n", "plugin:plugin", "plugin:plugin is a object, not a Plugin"),
        ("app = 1\n", "plugin:plugin", "module 'plugin' has no attribute 'plugin'"),
        ("plugin = 1\n", "server:plugin", "entry module 'server' is not in"),
        ("plugin = 1\n", "plugin", "entry 'plugin' must be module:attribute"),
    ],
)
def test_build_refuses_an_entry_that_would_not_start(
    tmp_path: Path, code: str, entry: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = source_with(tmp_path / "src", code)
    output = tmp_path / "out"
    assert main(["build", str(source), "--out", str(output), "--entry", entry]) == 2
    assert message in capsys.readouterr().err
    assert not output.exists()  # nothing half-built is left behind


def test_an_import_that_never_finishes_fails_the_build_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # subprocess.TimeoutExpired escaped the build as a traceback.
    monkeypatch.setattr("plutono_plugin._build.check.IMPORT_TIMEOUT", 1.0)
    source = source_with(tmp_path / "src", "import time\ntime.sleep(60)\n")
    output = tmp_path / "out"
    assert main(["build", str(source), "--out", str(output)]) == 2
    assert "entry plugin:plugin did not finish importing within 1 s" in capsys.readouterr().err
    assert not output.exists()


def test_a_module_of_the_plugin_that_does_not_compile_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = source_with(tmp_path / "src", "from plutono_plugin import Plugin\nplugin = Plugin()\n")
    (source / "helpers").mkdir()
    (source / "helpers" / "__init__.py").write_text("")
    (source / "helpers" / "broken.py").write_text("def f(:\n")
    assert main(["build", str(source), "--out", str(tmp_path / "out")]) == 2
    assert "helpers/broken.py:1 does not compile" in capsys.readouterr().err


def test_unknown_platform_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = source_with(tmp_path / "src", "from plutono_plugin import Plugin\nplugin = Plugin()\n")
    code = main(["build", str(source), "--out", str(tmp_path / "o"), "--platform", "windows_386"])
    assert code == 2
    assert "unknown platform 'windows_386'" in capsys.readouterr().err


def test_build_does_not_replace_a_directory_that_is_not_a_plugin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = source_with(tmp_path / "src", "from plutono_plugin import Plugin\nplugin = Plugin()\n")
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    assert main(["build", str(source), "--out", str(precious), "--platform", "linux_amd64"]) == 2
    assert "is not a plugin directory" in capsys.readouterr().err
    assert (precious / "notes.txt").read_text() == "keep me"


def test_a_target_without_wheels_fails_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = source_with(tmp_path / "src", "from plutono_plugin import Plugin\nplugin = Plugin()\n")
    # pyarrow 0.x published no wheel for today's Pythons: nothing the target could run.
    (source / "requirements.txt").write_text("pyarrow<1  # far too old\n")
    output = tmp_path / "out"
    assert main(["build", str(source), "--out", str(output), "--platform", "linux_arm64"]) == 2
    error = capsys.readouterr().err
    assert "cannot serve linux_arm64 (glibc) with Python 3." in error
    assert "pyarrow<1" in error
    assert not output.exists()


@pytest.mark.timeout(300)
def test_each_python_version_gets_its_own_trees_and_bytecode(
    public_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Alpine 3.21 (Plutono's image) has Python 3.12: build for it beside this one."""
    pythons = sorted(Path.home().glob(".pyenv/versions/3.12.*/bin/python3.12"))
    if not pythons:
        skip_or_fail("no Python 3.12 here to build and run for")
    monkeypatch.setenv("PATH", f"{pythons[0].parent}{os.pathsep}{os.environ['PATH']}")
    output = public_dir / "quickstart"
    arguments = ["build", str(ROOT / "examples" / "quickstart"), "--out", str(output)]
    arguments += ["--platform", host_platform(), "--python-version", "3.11"]
    assert main([*arguments, "--python-version", "3.12"]) == 0
    trees = {path.name.rsplit("-py", 1)[1] for path in (output / "lib" / "deps").iterdir()}
    assert trees == {"3.11", "3.12"}
    cache = output / "lib" / "framework" / "plutono_plugin" / "__pycache__"
    assert (cache / "plugin.cpython-311.pyc").is_file()
    assert (cache / "plugin.cpython-312.pyc").is_file()
    capsys.readouterr()
    assert main(["doctor", str(output), "--setting", f"python={pythons[0]}"]) == 0
    assert "verdict     ready" in capsys.readouterr().out


def test_bytecode_for_a_python_that_is_not_here_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    source = source_with(tmp_path / "src", "from plutono_plugin import Plugin\nplugin = Plugin()\n")
    arguments = ["build", str(source), "--out", str(tmp_path / "out")]
    assert main([*arguments, "--platform", "linux_amd64", "--python-version", "3.99"]) == 2
    assert "building for Python 3.99 needs a python3.99 interpreter on PATH" in (
        capsys.readouterr().err
    )


def test_standalone_for_another_platform_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = source_with(tmp_path / "src", "from plutono_plugin import Plugin\nplugin = Plugin()\n")
    other = "darwin_arm64" if host_platform() != "darwin_arm64" else "linux_amd64"
    arguments = ["build", str(source), "--out", str(tmp_path / "out"), "--standalone"]
    assert main([*arguments, "--platform", other]) == 2
    assert f"it builds for {host_platform()} only" in capsys.readouterr().err


@pytest.mark.timeout(300)  # a build for this machine: links the cached trees
def test_links_inside_the_source_are_copied_as_their_content(tmp_path: Path) -> None:
    source = source_with(tmp_path / "src", "from plutono_plugin import Plugin\nplugin = Plugin()\n")
    (source / "assets").mkdir()
    (source / "assets" / "logo.svg").write_text("<svg/>")
    (source / "img").mkdir()
    (source / "img" / "icon.svg").symlink_to(source / "assets" / "logo.svg")
    (source / "README.md").symlink_to("assets/logo.svg")
    output = tmp_path / "out"
    assert main(["build", str(source), "--out", str(output), "--platform", host_platform()]) == 0
    for name in ("img/icon.svg", "README.md"):
        assert not (output / name).is_symlink()
        assert (output / name).read_text() == "<svg/>"


def test_package_stores_a_link_inside_the_directory_as_its_content(tmp_path: Path) -> None:
    plugin = fake_build(tmp_path / "plugin")
    (plugin / "img").mkdir()
    (plugin / "img" / "logo.svg").write_text("<svg/>")
    (plugin / "img" / "alias.svg").symlink_to(plugin / "img" / "logo.svg")
    assert main(["package", str(plugin), "--out", str(tmp_path / "dist")]) == 0
    with zipfile.ZipFile(tmp_path / "dist" / "x-datasource-1.0.0.zip") as bundle:
        assert bundle.read("x-datasource/img/alias.svg") == b"<svg/>"


@pytest.mark.timeout(300)  # resolves a tree with pyelftools the first time
def test_a_requirement_missing_from_requirements_txt_fails_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pyelftools is installed for the tests, so the build environment imports it; the
    shipped plugin would not (issue 18)."""
    code = "import elftools\nfrom plutono_plugin import Plugin\nplugin = Plugin()\n"
    source = source_with(tmp_path / "src", code)
    output = tmp_path / "out"
    assert main(["build", str(source), "--out", str(output), "--platform", host_platform()]) == 2
    error = capsys.readouterr().err
    assert "entry plugin:plugin imports 'elftools', which the shipped dependencies" in error
    assert f"fix: add pyelftools to {source / 'requirements.txt'}" in error
    assert not output.exists()
    (source / "requirements.txt").write_text("pyelftools\n")
    assert main(["build", str(source), "--out", str(output), "--platform", host_platform()]) == 0


@pytest.mark.timeout(300)  # a build for this machine: links the cached trees
def test_data_files_are_copied_unless_excluded(tmp_path: Path) -> None:
    """A CSV beside plugin.py is read at import; the shipped import proves it was copied."""
    code = (
        "from pathlib import Path\nfrom plutono_plugin import Plugin\n"
        "STATIONS = (Path(__file__).parent / 'stations.csv').read_text()\nplugin = Plugin()\n"
    )
    source = source_with(tmp_path / "src", code)
    files = {
        "stations.csv": "id,name\n1,Berlin\n",
        "data/extra.json": "{}",
        "data/scratch.tmp": "",
        "secret.txt": "",
        "tests/test_plugin.py": "def f(:\n",  # excluded by default: never compiled either
        "node_modules/x/index.js": "",
        "notes/todo.md": "",
        ".pluginignore": "# mine\nsecret.txt\ndata/*.tmp\n!notes/\nnotes/*.md\n",
    }
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    output = tmp_path / "out"
    assert main(["build", str(source), "--out", str(output), "--platform", host_platform()]) == 0
    shipped = output / "lib" / "plugin"
    kept = sorted(
        path.relative_to(shipped).as_posix()
        for path in shipped.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    assert kept == ["data/extra.json", "plugin.py", "stations.csv"]
