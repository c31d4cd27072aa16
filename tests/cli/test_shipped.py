"""The shipped quickstart: self-contained, relocatable, for every platform, under the Go host.

One build for all four platforms is shared by the module. The end-to-end tests copy it to a
fresh path and run the real Go host (go-plugin v1.4.0, as Plutono) in a private mount
namespace where the source tree, the development virtualenv, its interpreter, the home
directory and the build cache are empty directories, with nothing but ``PATH=/usr/bin:/bin``
in the environment (``env -i``), so ``python3`` is the system's, which has none of the
dependencies; once as root and once as an unprivileged service user.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from plutono_plugin._build.resolve import cache_directory
from plutono_plugin.cli.build import build_plugin_dir
from tests._tools import ROOT, go_binary, skip_or_fail
from tests.interop.gohost import GoHost

pytestmark = [pytest.mark.go, pytest.mark.timeout(900)]

QUICKSTART_ID = "plutono-quickstart-datasource"
SERVICE_USER = "plutono"
CLEAN_PATH = "/usr/bin:/bin"
DEPENDENCIES = ("grpclib", "anyio", "prometheus_client", "betterproto2")


def system_python() -> Path:
    found = shutil.which("python3", path=CLEAN_PATH)
    if found is None:
        skip_or_fail("no system python3 in /usr/bin (the Makefile installs Debian's python3)")
    return Path(found)


def python_version(python: Path) -> str:
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/quickstart built for every platform, and for the system python3's version."""
    versions = ["{}.{}".format(*sys.version_info[:2]), python_version(system_python())]
    output = tmp_path_factory.mktemp("shipped") / "quickstart"
    source = ROOT / "examples" / "quickstart"
    return build_plugin_dir(source, output, python_versions=versions).directory


@pytest.fixture(scope="module")
def fresh_place() -> Iterator[Path]:
    """A world-readable folder outside the source tree, home and the build cache."""
    parent = Path(tempfile.mkdtemp(prefix="plutono-shipped-", dir="/tmp"))
    parent.chmod(0o755)
    shutil.copy2(go_binary("host"), parent / "gohost")
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="module")
def relocated(shipped: Path, fresh_place: Path) -> Path:
    copy = fresh_place / "plugins" / "quickstart"
    shutil.copytree(shipped, copy, symlinks=True)
    return copy


def hidden_paths() -> list[Path]:
    """Where the development setup lives: each becomes an empty tmpfs for the plugin."""
    candidates = [ROOT, Path(sys.prefix), cache_directory(), Path.home()]
    if not str(sys.base_prefix).startswith(("/usr", "/opt/homebrew")):
        candidates.append(Path(sys.base_prefix))
    existing = sorted({path.resolve() for path in candidates if path.is_dir()})
    return [path for path in existing if not any(other in path.parents for other in existing)]


def isolated(user: str | None = None, extra: list[Path] | None = None) -> list[str]:
    """A command prefix: a mount namespace hiding the development setup, maybe another user."""
    tools = {name: shutil.which(name) for name in ("unshare", "setpriv", "mount")}
    if os.geteuid() != 0 or None in tools.values():
        skip_or_fail("hiding the development setup needs root, unshare, setpriv and mount")
    hide = [*hidden_paths(), *(extra or [])]
    mounts = " && ".join(f"{tools['mount']} -t tmpfs tmpfs {path}" for path in hide)
    become = ""
    if user is not None:
        entry = pwd.getpwnam(user)
        become = f"{tools['setpriv']} --reuid={entry.pw_uid} --regid={entry.pw_gid} --clear-groups "
    script = f'{mounts} && exec {become}"$@"'
    return [
        str(tools["unshare"]),
        "--mount",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        script,
        "isolated",
    ]


@pytest.fixture(scope="module")
def service_user() -> str:
    """An unprivileged account like Plutono's (created when missing)."""
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        if os.geteuid() != 0 or shutil.which("useradd") is None:
            skip_or_fail(f"no user {SERVICE_USER!r} and no way to create one")
        subprocess.run(
            [
                *("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent"),
                *("--shell", "/usr/sbin/nologin", SERVICE_USER),
            ],
            check=True,
        )
    return SERVICE_USER


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(directory)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in directory.rglob("*")
    }


def exercise_every_service(host: GoHost, directory: Path) -> None:
    started = host.start(directory, QUICKSTART_ID)
    assert started["ok"], started
    assert host.ping()["ok"]
    health = host.check_health()
    assert health["ok"] and health["status"] == "OK", health
    answer = host.query([{"ref_id": "A", "query_type": "sine", "json": {"amplitude": 2}}])
    assert answer["ok"], answer
    (frame,) = answer["responses"]["A"]["frames_base64"]
    table = pa.ipc.open_file(pa.BufferReader(base64.b64decode(frame))).read_all()
    assert table.column_names == ["time", "value"] and table.num_rows == 100
    metrics = host.metrics()
    assert metrics["ok"] and "quickstart_queries_served" in metrics["prometheus"]
    resource = host.resource("ping")
    assert resource["ok"], resource
    assert resource["messages"][0]["code"] == 200
    assert json.loads(base64.b64decode(resource["messages"][0]["body_base64"])) == {"ok": True}
    killed = host.kill()
    assert killed["graceful"], killed


def serve_isolated(
    directory: Path, host_binary: Path, wrapper: list[str], path: str, stderr: Path, cwd: Path
) -> None:
    """Every service through the Go host run under ``wrapper`` with only ``PATH`` set.

    Also asserts that nothing was written into the plugin directory meanwhile.
    """
    before = snapshot(directory)
    host = GoHost(
        host_binary,
        env={"PATH": path},
        inherit_env=False,
        wrapper=wrapper,
        stderr_path=stderr,
        cwd=cwd,
    )
    try:
        exercise_every_service(host, directory)
    finally:
        host.close()
    assert snapshot(directory) == before


def probe(wrapper: list[str], python: Path) -> dict[str, object]:
    """What the plugin's world looks like: importable modules, the source tree."""
    code = (
        "import importlib.util, json, os\n"
        f"names = {[*DEPENDENCIES, 'plutono_plugin']!r}\n"
        "found = [n for n in names if importlib.util.find_spec(n)]\n"
        f"print(json.dumps({{'found': found, 'source': os.listdir({str(ROOT)!r})}}))\n"
    )
    result = subprocess.run(
        [*wrapper, str(python), "-c", code],
        env={"PATH": CLEAN_PATH},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout))


# -- what is in the directory ----------------------------------------------------------------


def test_the_directory_holds_everything_but_an_interpreter(shipped: Path) -> None:
    launchers = sorted(path.name for path in shipped.glob("gpx_quickstart_*"))
    assert launchers == [
        "gpx_quickstart_darwin_amd64",
        "gpx_quickstart_darwin_arm64",
        "gpx_quickstart_linux_amd64",
        "gpx_quickstart_linux_arm64",
    ]
    assert all(os.access(shipped / name, os.X_OK) for name in launchers)
    assert json.loads((shipped / "plugin.json").read_text())["id"] == QUICKSTART_ID
    assert (shipped / "README.md").is_file()
    assert (shipped / "lib" / "plugin" / "plugin.py").is_file()
    assert (shipped / "lib" / "framework" / "plutono_plugin" / "plugin.py").is_file()
    trees = {path.name.rsplit("-py", 1)[0] for path in (shipped / "lib" / "deps").iterdir()}
    assert trees == {
        "linux-amd64-glibc",
        "linux-amd64-musl",
        "linux-arm64-glibc",
        "linux-arm64-musl",
        "darwin-amd64",
        "darwin-arm64",
        "pure",  # the pure-Python dependencies, stored once (issue #19)
    }
    for tree in (shipped / "lib" / "deps").iterdir():
        for name in DEPENDENCIES:
            assert (_home(tree, name) / name / "__init__.py").is_file(), (tree.name, name)
        assert not (tree / "bin").exists()  # console scripts name the build interpreter


def _home(tree: Path, name: str) -> Path:
    """Where the shipped plugin finds ``name``: its platform's tree, else the shared one."""
    if (tree / name).exists():
        return tree
    return tree.parent / f"pure-py{tree.name.rsplit('-py', 1)[1]}"


def test_pure_python_dependencies_are_stored_once(shipped: Path) -> None:
    deps = shipped / "lib" / "deps"
    shared = next(deps.glob("pure-py*"))
    for name in ("grpclib", "anyio", "prometheus_client", "betterproto2"):
        assert (shared / name / "__init__.py").is_file(), name
        assert not list(deps.glob(f"*-*-py*/{name}")), name
    for tree in deps.glob("linux-*"):
        assert (tree / "multidict").is_dir()  # compiled: one per target


def missing_bytecode(root: Path, version: str) -> list[Path]:
    tag = "cpython-" + version.replace(".", "")
    return [
        source
        for source in root.rglob("*.py")
        if not (source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc").is_file()
    ]


def test_bytecode_is_compiled_for_each_target_python(shipped: Path) -> None:
    versions = json.loads((shipped / "lib" / "build.json").read_text())["python_versions"]
    for version in versions:
        assert missing_bytecode(shipped / "lib" / "plugin", version) == []
        assert missing_bytecode(shipped / "lib" / "framework", version) == []
    for tree in (shipped / "lib" / "deps").iterdir():
        version = tree.name.rsplit("-py", 1)[1]
        for name in DEPENDENCIES:
            assert missing_bytecode(_home(tree, name) / name, version) == [], tree.name


def test_no_build_machine_path_is_inside(shipped: Path) -> None:
    needles = {str(ROOT).encode(), sys.prefix.encode(), str(cache_directory()).encode()}
    for path in shipped.rglob("*"):
        if path.is_file() and path.stat().st_size < 4_000_000:
            data = path.read_bytes()
            assert not any(needle in data for needle in needles), path


_ELF_MACHINE = {"amd64": "EM_X86_64", "arm64": "EM_AARCH64"}
_MUSL_LIBC = {"amd64": "libc.musl-x86_64.so.1", "arm64": "libc.musl-aarch64.so.1"}
_MACHO_CPU = {0x01000007: "amd64", 0x0100000C: "arm64"}


def _binaries(tree: Path) -> list[Path]:
    return [
        path
        for path in tree.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and (path.suffix in (".so", ".dylib") or ".so." in path.name)
    ]


def elf_facts(path: Path) -> tuple[str, set[str]]:
    with path.open("rb") as handle:
        elf = ELFFile(handle)
        needed = {
            str(cast(Any, tag).needed)  # pyelftools sets the resolved name at run time
            for section in elf.iter_sections()
            if isinstance(section, DynamicSection)
            for tag in section.iter_tags()
            if tag.entry.d_tag == "DT_NEEDED"
        }
        return str(elf["e_machine"]), needed


def macho_arches(path: Path) -> set[str]:
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head[:4] == b"\xcf\xfa\xed\xfe":  # MH_MAGIC_64, little-endian
        return {_MACHO_CPU[struct.unpack("<I", head[4:8])[0]]}
    assert head[:4] == b"\xca\xfe\xba\xbe", f"{path} is not a Mach-O file"  # universal
    (count,) = struct.unpack(">I", head[4:8])
    return {
        _MACHO_CPU.get(struct.unpack(">I", head[8 + 20 * i : 12 + 20 * i])[0], "other")
        for i in range(count)
    }


@pytest.mark.parametrize("goarch", ["amd64", "arm64"])
@pytest.mark.parametrize("libc", ["glibc", "musl"])
def test_linux_trees_hold_binaries_for_their_architecture_and_libc(
    shipped: Path, goarch: str, libc: str
) -> None:
    for tree in (shipped / "lib" / "deps").glob(f"linux-{goarch}-{libc}-py*"):
        binaries = _binaries(tree)
        assert binaries, tree  # multidict's (the quickstart's one compiled dependency)
        linked: set[str] = set()
        for binary in binaries:
            machine, needed = elf_facts(binary)
            assert machine == _ELF_MACHINE[goarch], binary
            linked |= needed
        if libc == "musl":
            assert _MUSL_LIBC[goarch] in linked and "libc.so.6" not in linked
        else:
            assert "libc.so.6" in linked and not any("musl" in name for name in linked)


@pytest.mark.parametrize("goarch", ["amd64", "arm64"])
def test_darwin_trees_hold_mach_o_binaries_for_their_architecture(
    shipped: Path, goarch: str
) -> None:
    for tree in (shipped / "lib" / "deps").glob(f"darwin-{goarch}-py*"):
        binaries = _binaries(tree)
        assert binaries, tree  # multidict's (the quickstart's one compiled dependency)
        for binary in binaries:
            assert goarch in macho_arches(binary), binary


# -- a copy on a fresh path, with the development setup out of reach --------------------------


def test_a_copy_serves_every_service_with_a_clean_environment_and_the_system_python(
    relocated: Path, fresh_place: Path, tmp_path: Path
) -> None:
    wrapper = isolated()
    world = probe(wrapper, system_python())
    assert world == {"found": [], "source": []}  # no dependency, no source tree, no venv
    stderr = tmp_path / "host.stderr"
    serve_isolated(relocated, fresh_place / "gohost", wrapper, CLEAN_PATH, stderr, fresh_place)


def test_a_copy_serves_every_service_as_an_unprivileged_user(
    relocated: Path, fresh_place: Path, service_user: str, tmp_path: Path
) -> None:
    wrapper = isolated(service_user)
    assert probe(wrapper, system_python())["found"] == []
    stderr = Path(tempfile.mkdtemp(dir=fresh_place)) / "host.stderr"
    serve_isolated(relocated, fresh_place / "gohost", wrapper, CLEAN_PATH, stderr, Path("/"))


# -- what the launcher says when it cannot start ------------------------------------------------


def plugin_errors(host: GoHost) -> list[str]:
    """Error-level records Plutono's logger received from the plugin's stderr."""
    return [
        str(record["message"])
        for record in host.logs()["records"]
        if str(record["logger"]).startswith("gpx_") and record["level"] == "error"
    ]


def start_failure(directory: Path, fresh_place: Path, settings: dict[str, str]) -> list[str]:
    host = GoHost(fresh_place / "gohost", env={"PATH": CLEAN_PATH}, inherit_env=False)
    try:
        started = host.start(directory, QUICKSTART_ID, settings=settings)
        assert not started["ok"]
        return plugin_errors(host)
    finally:
        host.close()


def test_a_missing_interpreter_is_one_error_line_naming_the_fix(
    relocated: Path, fresh_place: Path
) -> None:
    errors = start_failure(relocated, fresh_place, {"python": "/opt/nowhere/python3"})
    assert errors == [
        "Python interpreter /opt/nowhere/python3 not found; fix: install Python or set "
        f"[plugin.{QUICKSTART_ID}] python = /path/to/python3 in the Plutono configuration "
        "(PL_PLUGIN_PYTHON)"
    ]


@pytest.mark.parametrize(
    ("version", "message"),
    [("3.6", "is Python 3.6, too old for this plugin"), ("3.13", "is Python 3.13, but this")],
)
def test_an_interpreter_of_another_version_is_named_with_the_fix(
    relocated: Path, fresh_place: Path, version: str, message: str
) -> None:
    # pyenv's shims on PATH only run the versions selected there: take the binaries.
    pyenv = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    python = str(pyenv[0]) if pyenv else shutil.which(f"python{version}", path=CLEAN_PATH)
    if python is None:
        skip_or_fail(f"no Python {version} here to try the launcher with")
    (error,) = start_failure(relocated, fresh_place, {"python": str(python)})
    assert message in error
    assert "; fix: " in error and "PL_PLUGIN_PYTHON" in error


def test_a_missing_dependency_tree_is_named(shipped: Path, fresh_place: Path) -> None:
    copy = fresh_place / "incomplete" / "quickstart"
    shutil.copytree(shipped, copy, symlinks=True)
    for tree in (copy / "lib" / "deps").glob("linux-*-glibc-*"):
        shutil.rmtree(tree)
    (error,) = start_failure(copy, fresh_place, {})
    assert "has no dependencies for linux-" in error and "-glibc" in error
    assert "fix: rebuild with plutono-plugin build --platform linux_" in error
