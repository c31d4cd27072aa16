"""First Python code a shipped plugin runs: pick the dependency tree, check, then serve.

``plutono-plugin build`` copies this file to ``<plugin>/lib/boot.py``; the launcher runs it as
``python3 -I -S -B lib/boot.py`` (isolated: no ``PYTHON*`` variables, no site-packages of
the target machine, no bytecode written). It reads ``lib/build.json``, checks the interpreter's
version, selects ``lib/deps/<os>-<arch>[-<libc>]-py<X.Y>`` for *this interpreter* (a Python
under Rosetta or an Alpine container is what counts, not the launcher's name), puts the plugin,
the framework, that tree and the pure-Python dependencies all trees share
(``lib/deps/pure-py<X.Y>``) first on ``sys.path`` and serves the entry.

The launcher passes its own path as the one argument: the process is renamed after it
(``/proc/self/comm``, i.e. ``prctl(PR_SET_NAME)``, on Linux), so ``pgrep gpx_quickstart``
finds the plugin as it finds a Go plugin, and the command line (``pgrep -f``, ``ps``) names
it too.

When something is missing it writes one hclog JSON line (contract 1.11: ``@level`` and
``@message`` strings) naming the problem and the fix, and exits 1: Plutono logs that line at
error level, while plain stderr only shows at debug level.

This module must stay importable by old Pythons (it is what tells a user that their Python is
too old), so it avoids f-strings and newer syntax, and imports only the standard library.
"""

import json
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
"""``platform.machine()`` spellings to Go's GOARCH."""

PYTHON_SETTING = "PL_PLUGIN_PYTHON"
"""The ini key ``[plugin.<id>] python`` reaches the launcher as this variable (contract 1.2)."""

_PR_SET_NAME = 15  # linux/prctl.h
_COMM_LENGTH = 15  # the kernel keeps 15 bytes of a process name (TASK_COMM_LEN - 1)


def variant_name(goos: str, goarch: str, libc: str) -> str:
    """Name of a dependency tree: ``linux-amd64-musl``, ``darwin-arm64`` (no libc on macOS).

    Example::

        assert variant_name("linux", "arm64", "glibc") == "linux-arm64-glibc"
    """
    if goos == "darwin":
        return "darwin-" + goarch
    return "%s-%s-%s" % (goos, goarch, libc)


def deps_name(variant: str, version: Tuple[int, int]) -> str:
    """Directory under ``lib/deps`` for a variant and a Python ``(major, minor)``."""
    return "%s-py%d.%d" % (variant, version[0], version[1])


def pure_name(version: Tuple[int, int]) -> str:
    """Directory under ``lib/deps`` of the pure-Python dependencies every tree shares."""
    return "pure-py%d.%d" % (version[0], version[1])


def _interpreter_libc(executable: str) -> str:
    # The ELF interpreter of the running Python names its libc (what packaging checks too):
    # /lib/ld-musl-x86_64.so.1 on Alpine, /lib64/ld-linux-x86-64.so.2 with glibc.
    try:
        with open(executable, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return "glibc"
    return "musl" if b"ld-musl" in head else "glibc"


def detect_libc(multiarch: str, executable: str) -> str:
    """``musl`` or ``glibc`` for the running Linux Python (``sys.implementation._multiarch``)."""
    if multiarch.endswith("-musl"):
        return "musl"
    if multiarch.endswith("-gnu"):
        return "glibc"
    return _interpreter_libc(executable)


def this_variant() -> Tuple[str, str, str]:
    """``(goos, goarch, libc)`` of the running interpreter."""
    machine = os.uname().machine.lower()
    goarch = ARCHES.get(machine, machine)
    if sys.platform == "darwin":
        return "darwin", goarch, ""
    multiarch = getattr(sys.implementation, "_multiarch", "") or ""
    return sys.platform, goarch, detect_libc(multiarch, sys.executable)


def select(
    goos: str,
    goarch: str,
    libc: str,
    version: Tuple[int, int],
    built: Sequence[str],
    python_versions: Sequence[str],
    python: str,
    plugin_id: str = "<id>",
) -> Tuple[Optional[str], Optional[Dict[str, str]]]:
    """The dependency directory for this interpreter, or a problem (``message``, ``fix``).

    ``built`` lists the directories under ``lib/deps``; ``python_versions`` the ``X.Y`` the
    plugin was built for; ``python`` the interpreter as configured and ``plugin_id`` the
    plugin's id (both for the messages).

    Example::

        name, problem = select("linux", "arm64", "musl", (3, 11),
                               ["linux-arm64-musl-py3.11"], ["3.11"], "python3")
        assert name == "linux-arm64-musl-py3.11" and problem is None
    """
    wanted = " or ".join(python_versions)
    have = "%d.%d" % version
    lowest = min(tuple(int(part) for part in item.split(".")) for item in python_versions)
    if version < lowest:
        return None, {
            "message": "%s is Python %s, too old for this plugin: it needs Python %s"
            % (python, have, wanted),
            "fix": "install Python %s on this machine, or point [plugin.%s] python "
            "(%s) to a Python %s interpreter" % (wanted, plugin_id, PYTHON_SETTING, wanted),
        }
    if have not in python_versions:
        return None, {
            "message": "%s is Python %s, but this plugin was built for Python %s "
            "(compiled dependencies are specific to one Python version)" % (python, have, wanted),
            "fix": "point [plugin.%s] python (%s) to a Python %s interpreter, or rebuild "
            "with plutono-plugin build --python-version %s"
            % (plugin_id, PYTHON_SETTING, wanted, have),
        }
    variant = variant_name(goos, goarch, libc)
    name = deps_name(variant, version)
    if name not in built:
        return None, {
            "message": "this plugin has no dependencies for %s (Python %s); it was built for %s"
            % (variant, have, ", ".join(sorted(built)) or "no platform"),
            "fix": "rebuild with plutono-plugin build --platform %s_%s" % (goos, goarch),
        }
    return name, None


def set_process_name(name: str) -> bool:
    """Give the process ``name`` (its first 15 bytes on Linux); ``False`` where impossible.

    ``exec -a`` in the launcher cannot do it: dash, Debian's ``/bin/sh``, has no ``-a``, and
    Python locates its own installation from ``argv[0]``. Writing ``/proc/self/comm`` names
    the main thread, which is the process's name, as ``prctl(PR_SET_NAME)`` does when called
    from it (boot runs before any other thread starts), without importing ctypes (~1.5 ms of
    every start); ctypes' ``prctl`` is the fallback where ``/proc`` is not mounted. macOS has
    no per-process name to set; there the command line carries the launcher's path.
    """
    if not sys.platform.startswith("linux") or not name:
        return False
    title = name.encode("utf-8", "replace")[:_COMM_LENGTH]
    try:
        with open("/proc/self/comm", "wb") as handle:
            handle.write(title)
        return True
    except OSError:
        pass
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_NAME, ctypes.c_char_p(title), 0, 0, 0) == 0)
    except (OSError, AttributeError, ImportError):  # no libc symbol, no ctypes
        return False


def config_problem(config: object) -> Optional[str]:
    """What is wrong with the contents of ``lib/build.json``, or ``None``."""
    if not isinstance(config, dict):
        return "it holds no JSON object"
    for key in ("plugin_id", "entry", "python"):
        if not isinstance(config.get(key), str) or not config[key]:
            return "%s must be a non-empty string" % key
    versions = config.get("python_versions")
    if (
        not isinstance(versions, list)
        or not versions
        or not all(isinstance(item, str) and _is_version(item) for item in versions)
    ):
        return 'python_versions must be a non-empty list of versions such as "3.11"'
    return None


def _is_version(text: str) -> bool:
    major, dot, minor = text.partition(".")
    digits = "0123456789"  # str.isascii() is too new for the Pythons this must name
    return bool(dot and major and minor) and all(char in digits for char in major + minor)


def problem_line(problem: Dict[str, str]) -> str:
    """One hclog JSON line (contract 1.11): string ``@level`` and ``@message``, extra keys."""
    record = {"@level": "error", "@message": problem["message"] + "; fix: " + problem["fix"]}
    record.update(problem)
    return json.dumps(record)


def _fail(problem: Dict[str, str]) -> int:
    sys.stderr.write(problem_line(problem) + "\n")
    sys.stderr.flush()
    return 1


def dependency_trees(lib: str) -> List[str]:
    """The per-target dependency trees under ``lib/deps`` (not the shared pure-Python ones)."""
    return [name for name in os.listdir(os.path.join(lib, "deps")) if not name.startswith("pure-")]


def search_path(lib: str, tree: str) -> List[str]:
    """What goes first on ``sys.path`` to serve from ``lib`` with dependency tree ``tree``."""
    return [
        os.path.join(lib, "plugin"),
        os.path.join(lib, "framework"),
        os.path.join(lib, "deps", tree),
        # what every tree of this Python version holds identically, stored once (_build/pure.py)
        os.path.join(lib, "deps", pure_name(sys.version_info[:2])),
    ]


def main(argv: List[str]) -> int:
    """Check, select and serve; returns the exit code when the plugin cannot start."""
    if len(argv) > 1:  # the launcher's path (Plutono itself passes no arguments)
        set_process_name(os.path.basename(argv[1]))
    lib = os.path.dirname(os.path.abspath(__file__))
    rebuild = "copy the whole directory again, or rebuild with plutono-plugin build"
    try:
        with open(os.path.join(lib, "build.json")) as handle:
            config = json.load(handle)
        built = dependency_trees(lib)
    except (OSError, ValueError, RecursionError) as error:
        return _fail(
            {
                "message": "the plugin directory %s is incomplete: %s"
                % (os.path.dirname(lib), error),
                "fix": rebuild,
            }
        )
    damage = config_problem(config)
    if damage is not None:
        return _fail(
            {
                "message": "%s is damaged: %s" % (os.path.join(lib, "build.json"), damage),
                "fix": rebuild,
            }
        )
    goos, goarch, libc = this_variant()
    python = os.environ.get(PYTHON_SETTING) or config["python"]
    name, problem = select(
        goos,
        goarch,
        libc,
        sys.version_info[:2],
        built,
        config["python_versions"],
        python,
        config["plugin_id"],
    )
    if problem is not None:
        return _fail(problem)
    sys.path[:0] = search_path(lib, str(name))
    dev_source = config.get("dev_source")
    if dev_source:  # a --dev build: the edited source, restarted on change (hot reload)
        os.environ.setdefault("PL_PLUGIN_DEV_RELOAD", dev_source)
        sys.path.insert(0, dev_source)
    from plutono_plugin.cli.serve import serve

    return serve(config["entry"])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
