"""The go-plugin server side of the handshake (contract 1.3-1.7).

This module is imported before anything heavy: it decides, from the environment alone, whether
the process may serve at all (magic cookie, protocol version), opens the listener, and writes the
one handshake line that is the only thing this process ever writes to the host's stdout pipe.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ..errors import HandshakeError

__all__ = (
    "COOKIE_KEY",
    "COOKIE_VALUE",
    "NOT_A_PLUGIN_TEXT",
    "Listener",
    "check_cookie",
    "handshake_line",
    "negotiate_version",
    "open_listener",
    "remove_stale_socket_directories",
    "write_handshake",
)

COOKIE_KEY: Final = "grafana_plugin_type"
COOKIE_VALUE: Final = "datasource"
"""The SDK's magic cookie; the same value for datasource and app plugins (contract 1.2, 1.3)."""

NOT_A_PLUGIN_TEXT: Final = (
    "This binary is a plugin. These are not meant to be executed directly.\n"
    "Please execute the program that consumes these plugins, which will\n"
    "load any plugins automatically\n"
)
"""go-plugin's exact text for a missing or wrong cookie (contract 1.3)."""

CORE_PROTOCOL_VERSION: Final = 1
APP_PROTOCOL_VERSION: Final = 2
"""pluginv2; version 1 would select Plutono's deprecated legacy protocol (contract 1.4)."""

_UNIX_PATH_MAX: Final = 100  # sun_path is 104 (macOS) or 108 (Linux) bytes
_PREFIX: Final = "plutono-plugin-"
_SOCKET_NAME: Final = "plugin.sock"


def check_cookie(environ: Mapping[str, str]) -> None:
    """Raise :class:`HandshakeError` with go-plugin's text unless the host's cookie is set."""
    if environ.get(COOKIE_KEY) != COOKIE_VALUE:
        raise HandshakeError(
            f"magic cookie {COOKIE_KEY}={COOKIE_VALUE} missing: not started by a plugin host",
            exit_text=NOT_A_PLUGIN_TEXT,
        )


def negotiate_version(environ: Mapping[str, str], notes: list[str] | None = None) -> int:
    """Answer ``PLUGIN_PROTOCOL_VERSIONS`` like go-plugin's ``protocolVersion`` (contract 1.4).

    The host offers a comma list in random order; invalid entries are skipped with a note in
    ``notes``. We speak only version 2: if it is not offered, the host could not use us.
    """
    raw = environ.get("PLUGIN_PROTOCOL_VERSIONS")
    if raw is None:
        return APP_PROTOCOL_VERSION  # go-plugin falls back to its own configured version
    offered: list[int] = []
    for entry in raw.split(","):
        entry = entry.strip()
        try:
            offered.append(int(entry))
        except ValueError:
            if notes is not None:
                notes.append(f"server sent invalid plugin version {entry!r}")
    if APP_PROTOCOL_VERSION not in offered:
        raise HandshakeError(
            f"the host offers plugin protocol versions {raw!r} "
            f"(PLUGIN_PROTOCOL_VERSIONS) but this plugin speaks only version "
            f"{APP_PROTOCOL_VERSION} (pluginv2)"
        )
    return APP_PROTOCOL_VERSION


@dataclass(slots=True)
class Listener:
    """A bound, listening socket and how the host reaches it."""

    sock: socket.socket
    network: str
    """``unix`` or ``tcp``."""
    address: str
    """Socket path, or ``127.0.0.1:<port>``."""
    _directory: str | None = field(default=None, repr=False)

    def close(self) -> None:
        """Close the socket and remove the private socket directory (idempotent)."""
        self.sock.close()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None


def _port_range(environ: Mapping[str, str]) -> range:
    def read(name: str) -> int:
        value = environ.get(name, "").strip()
        if not value:
            return 0
        try:
            return int(value)
        except ValueError:
            raise HandshakeError(f"Couldn't get value from {name}: {value!r}") from None

    low, high = read("PLUGIN_MIN_PORT"), read("PLUGIN_MAX_PORT")
    if low > high:
        raise HandshakeError(
            f"PLUGIN_MIN_PORT value of {low} is greater than PLUGIN_MAX_PORT value of {high}"
        )
    return range(low, high + 1)


def _open_tcp(environ: Mapping[str, str]) -> Listener:
    # Loopback only, ever: the host dials 127.0.0.1 (contract 1.5).
    for port in _port_range(environ):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(128)
        except OSError:
            sock.close()
            continue
        host, bound = sock.getsockname()[:2]
        return Listener(sock, "tcp", f"{host}:{bound}")
    raise HandshakeError("Couldn't bind plugin TCP listener")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


def _listening(path: str) -> bool:
    """Whether a process still accepts connections on the unix socket at ``path``.

    The pid in a directory's name can mislead: a plugin in another pid namespace (a container
    sharing this ``TMPDIR`` as the same user) is invisible to :func:`_alive`, so a socket that
    still answers is left alone. Only a refused connection (nobody listens) or a missing
    socket counts as dead; anything else (a full backlog, a path too long to connect to) keeps
    it: a directory left behind costs nothing, a live plugin's socket removed costs its host.
    """
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(0.2)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError:
        return True
    finally:
        probe.close()
    return True


def remove_stale_socket_directories(parent: str | None = None) -> int:
    """Remove socket directories left by plugin processes of this user that no longer run.

    A SIGKILLed plugin (the host's ``Kill()`` after 2 s, contract 1.12) cannot remove its
    directory. Each directory is named after its process (``plutono-plugin-<pid>-…``); one
    is removed only when it belongs to this user, is a real directory (not a link), its
    process is gone, it holds nothing but the socket and nothing listens on that socket any
    more (a plugin in another pid namespace has a pid this process cannot see). Entries are
    removed relative to an open directory descriptor, so a path swapped in between cannot
    redirect the removal.
    Returns how many were removed; never raises.
    """
    parent = parent or tempfile.gettempdir()
    removed = 0
    try:
        entries = [entry.name for entry in os.scandir(parent) if entry.name.startswith(_PREFIX)]
    except OSError:
        return 0
    for name in entries:
        pid_text = name[len(_PREFIX) :].partition("-")[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _alive(int(pid_text)):
            continue
        try:
            removed += _remove_socket_directory(parent, name)
        except OSError:
            continue
    return removed


def _remove_socket_directory(parent: str, name: str) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    parent_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        directory_fd = os.open(name, flags, dir_fd=parent_fd)
        try:
            info = os.fstat(directory_fd)
            if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
                return 0
            contents = os.listdir(directory_fd)
            if any(entry != _SOCKET_NAME for entry in contents):
                return 0
            if contents:
                if not stat.S_ISSOCK(
                    os.stat(_SOCKET_NAME, dir_fd=directory_fd, follow_symlinks=False).st_mode
                ):
                    return 0
                if _listening(os.path.join(parent, name, _SOCKET_NAME)):
                    return 0
                os.unlink(_SOCKET_NAME, dir_fd=directory_fd)
        finally:
            os.close(directory_fd)
        os.rmdir(name, dir_fd=parent_fd)
        return 1
    finally:
        os.close(parent_fd)


def _open_unix() -> Listener | None:
    # A fresh 0700 directory (mkdtemp) holds the socket, so no other user can connect to it and
    # removing the directory on exit removes the socket too (contract 1.5). Its name carries
    # the pid, so a later process can tell a dead plugin's leftover directory.
    remove_stale_socket_directories()
    directory = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-")
    path = os.path.join(directory, _SOCKET_NAME)
    if len(path.encode()) > _UNIX_PATH_MAX:
        shutil.rmtree(directory, ignore_errors=True)
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(128)
    except OSError:
        sock.close()
        shutil.rmtree(directory, ignore_errors=True)
        return None
    return Listener(sock, "unix", path, directory)


def open_listener(environ: Mapping[str, str], network: str = "auto") -> Listener:
    """Open the listener: a unix socket where possible, else TCP on loopback (contract 1.5).

    ``network`` is ``auto`` (unix, TCP as fallback), ``unix`` or ``tcp``, from
    ``Plugin(network=...)``. ``environ`` gives go-plugin's TCP port range.
    """
    if network not in ("auto", "unix", "tcp"):
        raise HandshakeError(f"unknown listener network {network!r}: use auto, unix or tcp")
    if network != "tcp" and hasattr(socket, "AF_UNIX") and sys.platform != "win32":
        listener = _open_unix()
        if listener is not None:
            return listener
        if network == "unix":
            raise HandshakeError("could not listen on a unix socket under $TMPDIR")
    return _open_tcp(environ)


def handshake_line(listener: Listener) -> str:
    """``1|2|<network>|<address>|grpc|`` with an empty certificate field (contract 1.6, 1.7)."""
    return (
        f"{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|{listener.network}|"
        f"{listener.address}|grpc|\n"
    )


def write_handshake(listener: Listener, fd: int = 1) -> None:
    """Write the handshake line straight to ``fd`` (unbuffered: flushed at once)."""
    data = handshake_line(listener).encode()
    while data:
        written = os.write(fd, data)
        data = data[written:]
