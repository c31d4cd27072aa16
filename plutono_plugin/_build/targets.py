"""The platforms a plugin is built for, and the wheel platform tags that serve each.

A Plutono *platform* is what names the executable, ``<goos>_<goarch>`` (contract 2.1). A Linux
platform has two *variants*: glibc (Debian, Ubuntu, RHEL: ``manylinux`` wheels) and musl (Alpine,
the base of Plutono's official Docker image: ``musllinux`` wheels); the launcher picks by the
libc of the interpreter it runs. The floors are those of current wheels: glibc 2.28, musl 1.2,
macOS 12.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ..errors import ConfigurationError
from .boot import ARCHES, variant_name

__all__ = ("PLATFORMS", "Variant", "host_platform", "parse_platforms", "variants")

PLATFORMS = ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64")
"""Default targets: every POSIX platform Plutono is released for."""

_WHEEL_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}
_GLIBC_MINORS = range(28, 16, -1)  # manylinux_2_28 down to manylinux_2_17 (= manylinux2014)
_MACOS = "12_0"


@dataclass(frozen=True, slots=True)
class Variant:
    """One dependency tree: a platform and, on Linux, a libc."""

    goos: str
    goarch: str
    libc: str

    @property
    def platform(self) -> str:
        """The Plutono platform, ``linux_arm64``."""
        return f"{self.goos}_{self.goarch}"

    @property
    def name(self) -> str:
        """Directory name stem, ``linux-arm64-musl``."""
        return variant_name(self.goos, self.goarch, self.libc)

    def wheel_platforms(self) -> list[str]:
        """Values for pip's ``--platform`` (pip expands macOS versions itself, not manylinux)."""
        if self.goos == "darwin":
            return [f"macosx_{_MACOS}_{'x86_64' if self.goarch == 'amd64' else 'arm64'}"]
        arch = _WHEEL_ARCH[self.goarch]
        if self.libc == "musl":
            return [f"musllinux_1_2_{arch}", f"musllinux_1_1_{arch}"]
        return [f"manylinux_2_{minor}_{arch}" for minor in _GLIBC_MINORS] + [
            f"manylinux2014_{arch}"
        ]


def parse_platforms(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate ``--platform`` values (default: :data:`PLATFORMS`), keeping their order."""
    chosen = tuple(dict.fromkeys(values or PLATFORMS))
    for value in chosen:
        if value not in PLATFORMS:
            raise ConfigurationError(
                f"unknown platform {value!r}: choose from {', '.join(PLATFORMS)}"
            )
    return chosen


def variants(platforms: tuple[str, ...]) -> list[Variant]:
    """Every dependency tree the platforms need (two per Linux platform)."""
    result: list[Variant] = []
    for platform in platforms:
        goos, goarch = platform.split("_")
        libcs = ("glibc", "musl") if goos == "linux" else ("",)
        result.extend(Variant(goos, goarch, libc) for libc in libcs)
    return result


def host_platform() -> str:
    """This machine's platform, ``linux_amd64`` (what ``--standalone`` builds)."""
    import os

    machine = os.uname().machine.lower()
    return f"{sys.platform}_{ARCHES.get(machine, machine)}"
