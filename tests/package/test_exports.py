"""The package's shape: curated public API, documented names, generated code in sync."""

from __future__ import annotations

import filecmp
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import plutono_plugin
from tests._tools import ROOT

# The curated API (STYLE 9): changing it is a decision, so this list changes with it.
PUBLIC = {
    "AppSettings",
    "ConfigurationError",
    "DataSourceSettings",
    "Field",
    "FieldConfig",
    "FieldType",
    "Frame",
    "FrameError",
    "FrameMeta",
    "HandshakeError",
    "Headers",
    "HealthResult",
    "HealthStatus",
    "InstanceError",
    "Notice",
    "OptionsError",
    "Plugin",
    "PluginContext",
    "PluginError",
    "Query",
    "QueryError",
    "QueryResponse",
    "RequestContext",
    "ResourceError",
    "ResourceRequest",
    "ResourceResponse",
    "Secret",
    "Secrets",
    "Settings",
    "TimeRange",
    "User",
}


def public_modules() -> list[str]:
    return [
        module.name
        for module in pkgutil.walk_packages(plutono_plugin.__path__, "plutono_plugin.")
        if not any(part.startswith("_") for part in module.name.split("."))
    ]


def test_top_level_exports_are_the_curated_api() -> None:
    assert set(plutono_plugin.__all__) == PUBLIC
    documented_in = {
        name
        for module_name in public_modules()
        for name in getattr(importlib.import_module(module_name), "__all__", ())
    }
    for name in plutono_plugin.__all__:
        value = getattr(plutono_plugin, name)
        assert getattr(value, "__module__", "").startswith("plutono_plugin."), name
        assert name in documented_in, f"{name} is not in any public module's __all__"


def test_every_public_name_is_documented() -> None:
    missing = []
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        if not module.__doc__:
            missing.append(module_name)
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if (inspect.isclass(value) or inspect.isfunction(value)) and not value.__doc__:
                missing.append(f"{module_name}.{name}")
            if inspect.isclass(value):
                for attribute, member in vars(value).items():
                    if attribute.startswith("_") or not inspect.isfunction(member):
                        continue
                    if not member.__doc__:
                        missing.append(f"{module_name}.{name}.{attribute}")
    assert missing == []


def test_public_modules_declare_all() -> None:
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        if module_name.endswith("__main__"):
            continue
        assert hasattr(module, "__all__"), module_name
        for name in module.__all__:
            assert hasattr(module, name), f"{module_name}.__all__ names missing {name}"


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, plutono_plugin\n"
        "names = ('pyarrow', 'numpy', 'pandas', 'polars', 'grpclib')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_a_plugin_start_loads_nothing_it_defers() -> None:
    """What a shipped plugin imports before its handshake leaves out what only some calls use.

    Each of these costs a millisecond or more of every cold start (docs/benchmarks.md); they
    load on first use: prometheus_client after the handshake, the rest when a call needs them.
    """
    code = (
        "import sys, plutono_plugin, plutono_plugin.cli.serve, plutono_plugin._runtime.runner\n"
        "names = ('argparse', 'ctypes', 'difflib', 'hashlib', 'prometheus_client', 'uuid')\n"
        "print(','.join(m for m in names if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_generated_code_matches_protos(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            str(ROOT / "protos"),
            f"--python_betterproto2_out={tmp_path}",
            "--python_betterproto2_opt=client_generation=async,server_generation=async",
            *(str(p) for p in sorted((ROOT / "protos").glob("*.proto"))),
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    committed = ROOT / "plutono_plugin" / "_proto"
    differences = _compare(filecmp.dircmp(tmp_path, committed, ignore=["__pycache__"]))
    assert differences == [], "run `make proto` and commit the result"


def _compare(comparison: filecmp.dircmp[str]) -> list[str]:
    found = [*comparison.left_only, *comparison.right_only, *comparison.diff_files]
    found += [f"{comparison.left}/{name}" for name in comparison.funny_files]
    for sub in comparison.subdirs.values():
        found += _compare(sub)
    return found


def test_encoding_frames_from_lists_and_numpy_never_imports_pandas() -> None:
    # pyarrow's pa.array() imports pandas when installed: tens of MiB and a slow first query.
    code = (
        "import sys, numpy\n"
        "from plutono_plugin import Field, Frame\n"
        "Frame('a', [Field('t', [1, None], type='time'), Field('s', ['x', None]),\n"
        "            Field('b', [True, False]), Field('n', numpy.arange(2.0)),\n"
        "            Field('d', numpy.array(['2024-01-01', 'NaT'], dtype='datetime64[s]')),\n"
        "           ]).encode()\n"
        "print('pandas' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
