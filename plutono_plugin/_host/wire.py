"""What the dev host reads from a plugin: ``plugin.json``, the handshake line, stderr log lines.

Both parsers follow go-plugin v1.4.0's client (``client.go`` ``Start``, ``log_entry.go``) so that
a plugin the dev host accepts is one Plutono accepts, and they name every difference that would
break or silently degrade the plugin under Plutono.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from ..errors import ConfigurationError, HandshakeError
from ..settings import LOG_LEVELS

__all__ = (
    "Handshake",
    "LogRecord",
    "PluginManifest",
    "executable_path",
    "parse_handshake",
    "parse_log_line",
    "read_manifest",
    "tcp_host_port",
)

SUPPORTED_APP_VERSIONS: Final = (1, 2)
"""Keys of Plutono's ``VersionedPlugins`` (contract 1.4)."""

"""hclog levels Plutono understands (contract 1.11)."""

_CERT_MIN_LENGTH: Final = 50
_TIMESTAMP: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(?:Z|[+-]\d{2}:\d{2})")


@dataclass(frozen=True, slots=True)
class Handshake:
    """The fields of a plugin's handshake line ``1|2|unix|/tmp/plugin123|grpc|``."""

    core_version: int
    app_version: int
    network: str
    address: str
    protocol: str
    server_cert: str = ""


def parse_handshake(line: str) -> Handshake:
    r"""Parse the first stdout line exactly as go-plugin v1.4.0 does (contract 1.6).

    Raises :class:`HandshakeError` naming the problem. Stricter than go-plugin in two places,
    both where Plutono itself would fail later: version 1 (Plutono would talk the legacy
    protocol) and a certificate in field 6 (Plutono never enables AutoMTLS and would crash,
    contract 1.7). A short field 6 (50 characters or fewer) is ignored, as go-plugin does.

    Example::

        handshake = parse_handshake("1|2|unix|/tmp/plugin42|grpc|\n")
        assert (handshake.network, handshake.address) == ("unix", "/tmp/plugin42")
    """
    text = line.strip()
    parts = text.split("|", 5)
    if len(parts) < 4:
        raise HandshakeError(
            f"Unrecognized remote plugin message: {text!r}: the first line a plugin writes to "
            "stdout must be the handshake '1|2|<network>|<address>|grpc|' (contract 1.6)"
        )
    try:
        core_version = int(parts[0])
    except ValueError:
        raise HandshakeError(
            f"Error parsing core protocol version {parts[0]!r} in handshake {text!r}"
        ) from None
    if core_version != 1:
        raise HandshakeError(
            f"Incompatible core API version with plugin. Plugin version: {parts[0]}, "
            "Core version: 1"
        )
    try:
        app_version = int(parts[1])
    except ValueError:
        raise HandshakeError(
            f"Error parsing protocol version {parts[1]!r} in handshake {text!r}"
        ) from None
    if app_version not in SUPPORTED_APP_VERSIONS:
        raise HandshakeError(
            f"Incompatible API version with plugin. Plugin version: {app_version}, "
            "Client versions: [1 2]"
        )
    if app_version == 1:
        raise HandshakeError(
            "plugin answered protocol version 1: Plutono would talk the deprecated legacy "
            "protocol (grafana-plugin-model) to it, not pluginv2; answer 2 (contract 1.4)"
        )
    network, address = parts[2], parts[3]
    if network not in ("unix", "tcp"):
        raise HandshakeError(
            f"Unknown address type: {address} (network {network!r} must be 'unix' or 'tcp')"
        )
    if network == "tcp" and _split_host_port(address) is None:
        raise HandshakeError(f"handshake address {address!r} is not a 'host:port' TCP address")
    if network == "unix" and not address:
        raise HandshakeError("handshake names an empty unix socket path")
    protocol = parts[4] if len(parts) >= 5 else "netrpc"
    if protocol != "grpc":
        raise HandshakeError(f'Unsupported plugin protocol "{protocol}". Supported: [grpc]')
    cert = parts[5] if len(parts) >= 6 else ""
    if len(cert) > _CERT_MIN_LENGTH:
        raise HandshakeError(
            "handshake carries a server certificate (field 6) but Plutono never enables "
            "AutoMTLS: go-plugin v1.4.0 would panic and crash Plutono; leave field 6 empty "
            "(contract 1.7)"
        )
    return Handshake(core_version, app_version, network, address, protocol, cert)


def _split_host_port(address: str) -> tuple[str, int] | None:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def tcp_host_port(address: str) -> tuple[str, int]:
    """``(host, port)`` of a handshake TCP address (checked by :func:`parse_handshake`)."""
    parsed = _split_host_port(address)
    if parsed is None:
        raise HandshakeError(f"handshake address {address!r} is not a 'host:port' TCP address")
    return parsed


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log line from the plugin's stderr, as Plutono's go-plugin client reads it.

    ``level`` is one of :data:`LOG_LEVELS`; ``fields`` holds every key of the JSON object other
    than ``@message``, ``@level`` and ``@timestamp`` (``@module``, ``@caller`` included).
    A line that is not hclog JSON becomes a record with the whole line as ``message`` and a
    level taken from a ``[WARN]``-style prefix, else ``debug`` (contract 1.11).
    """

    level: str
    message: str
    timestamp: datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    raw: str = ""

    def __str__(self) -> str:
        when = self.timestamp.isoformat(timespec="milliseconds") + " " if self.timestamp else ""
        pairs = "".join(f" {key}={value}" for key, value in self.fields.items())
        return f"{when}{self.level.upper():5} {self.message}{pairs}"


def _raw_record(line: str, *, infer_level: bool) -> LogRecord:
    level = "debug"
    if infer_level:
        for candidate in LOG_LEVELS:
            if line.startswith(f"[{candidate.upper()}]"):
                level = candidate
    return LogRecord(level=level, message=line, raw=line)


def parse_log_line(line: str) -> tuple[LogRecord, str | None]:
    """Parse one stderr line like go-plugin's ``logStderr``; returns the record and a problem.

    The problem (or ``None``) says what Plutono would do wrong with the line: crash on a
    non-string ``@message``/``@level``/``@timestamp``, or log it verbatim at debug level
    (hidden by default) because the timestamp or level is not what hclog writes.

    Example::

        record, problem = parse_log_line('{"@level": "info", "@message": "ready", "port": 1}')
        assert (record.level, record.message, record.fields, problem) == (
            "info", "ready", {"port": 1}, None)
    """
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        return _raw_record(line, infer_level=True), None
    for key in ("@message", "@level", "@timestamp"):
        if key in entry and not isinstance(entry[key], str):
            return _raw_record(line, infer_level=False), (
                f"log line has a non-string {key} ({entry[key]!r}): go-plugin v1.4.0 panics on "
                f"it and Plutono crashes (contract 1.11): {line[:200]}"
            )
    timestamp = None
    if "@timestamp" in entry:
        text = entry["@timestamp"]
        if not _TIMESTAMP.fullmatch(text):
            return _raw_record(line, infer_level=True), (
                f"log line @timestamp {text!r} is not hclog's layout (6 fractional digits, "
                "'Z' or '+hh:mm'): Plutono logs the whole line verbatim at debug (contract 1.11)"
            )
        timestamp = datetime.fromisoformat(text)
    level = str(entry.get("@level", "")).strip().lower()
    if level not in LOG_LEVELS:
        return _raw_record(line, infer_level=False), (
            f"log line has no known @level ({entry.get('@level')!r}): Plutono logs it verbatim "
            f"at debug (contract 1.11): {line[:200]}"
        )
    fields = {k: v for k, v in entry.items() if k not in ("@message", "@level", "@timestamp")}
    message = str(entry.get("@message", ""))
    return LogRecord(level, message, timestamp, fields, line), None


_GOOS: Final = {"linux": "linux", "darwin": "darwin", "win32": "windows"}
_GOARCH: Final = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm",
    "armv6l": "arm",
}


@dataclass(frozen=True, slots=True)
class PluginManifest:
    """The parts of ``plugin.json`` that decide how a backend plugin is started (contract 2.1)."""

    directory: Path
    id: str
    type: str
    executable: str
    name: str = ""


def read_manifest(plugin_dir: str | os.PathLike[str]) -> PluginManifest:
    """Read ``<plugin_dir>/plugin.json``; :class:`ConfigurationError` says what is missing."""
    directory = Path(plugin_dir).absolute()  # the plugin runs in another cwd
    path = directory / "plugin.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path} does not exist: not a plugin directory") from None
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read {path}: {error}") from None
    except RecursionError:
        raise ConfigurationError(f"cannot read {path}: it is nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} must hold a JSON object")
    for key in ("id", "type"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ConfigurationError(f"{path} has no {key!r} (Plutono requires id and type)")
    if data.get("backend") is not True:
        raise ConfigurationError(f'{path} does not declare "backend": true')
    executable = data.get("executable")
    if not isinstance(executable, str) or not executable:
        raise ConfigurationError(f'{path} has no "executable" name for the backend')
    return PluginManifest(
        directory, data["id"], data["type"], executable, str(data.get("name", ""))
    )


def executable_path(manifest: PluginManifest) -> Path:
    """``<dir>/<executable>_<goos>_<goarch>[.exe]`` as Plutono composes it (contract 2.1)."""
    goos = _GOOS.get(sys.platform, sys.platform)
    machine = platform.machine()
    goarch = _GOARCH.get(machine.lower(), machine.lower())
    suffix = ".exe" if goos == "windows" else ""
    return manifest.directory / f"{manifest.executable}_{goos}_{goarch}{suffix}"
