"""Hot reload for development: exit cleanly on a source change, so the host starts the new code.

Driven by ``PL_PLUGIN_DEV_RELOAD`` (``[plugin.<id>] dev_reload``, contract 1.2), which the
launcher of a ``plutono-plugin build --dev`` sets to the source directory; several directories
are separated by ``os.pathsep``. Nothing here runs unless it is set, so a normal build never
watches anything.

Plutono restarts a plugin whose process exited, on a 1 second tick, forever, a clean exit too
(contract 1.13); ``plutono-plugin host dev`` and ``PluginHost(restart=True)`` do the same. So a
change is applied by leaving: wait until no call is in flight (bounded by the plugin's
``shutdown_grace``), then stop like on ``Shutdown`` (a call that slips in is drained, not
dropped) and exit 0. A file that does not compile is reported and the old code keeps serving:
the restarted plugin would only fail its import.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio

if TYPE_CHECKING:
    from .server import PluginServer

__all__ = ("RELOAD_KEY", "reload_on_change", "reload_paths")

_log = logging.getLogger("plutono_plugin.reload")

RELOAD_KEY: Final = "dev_reload"
"""The ``[plugin.<id>]`` key (environment: ``PL_PLUGIN_DEV_RELOAD``)."""
_WATCH_TIMEOUT_MS: Final = 200
"""How long the watcher thread blocks: bounds the delay it adds to a shutdown (contract 1.12)."""
_IDLE_POLL_SECONDS: Final = 0.01


def reload_paths(config: Mapping[str, str]) -> list[Path]:
    """The directories or files to watch, from the lower-cased ``[plugin.<id>]`` keys.

    Example::

        assert reload_paths({"dev_reload": "/src/my-plugin"}) == [Path("/src/my-plugin")]
        assert reload_paths({}) == []
    """
    value = config.get(RELOAD_KEY, "").strip()
    if value.lower() in ("", "0", "off", "false", "no"):
        return []
    return [Path(part) for part in value.split(os.pathsep) if part]


async def reload_on_change(server: PluginServer, config: Mapping[str, str]) -> None:
    """Watch the configured source; on a change that compiles, stop ``server`` gracefully."""
    paths = reload_paths(config)
    if not paths:
        return
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        _log.error("hot reload: no such path, not watching it", extra={"paths": missing})
        paths = [path for path in paths if path.exists()]
    try:
        from watchfiles import DefaultFilter, awatch
    except ImportError:
        _log.error("dev_reload is set but watchfiles is not installed: pip install watchfiles")
        return
    if not paths:
        return
    logging.getLogger("watchfiles").setLevel(logging.INFO)  # one debug line per change
    changes_seen = awatch(
        *paths, watch_filter=DefaultFilter(), rust_timeout=_WATCH_TIMEOUT_MS, step=20
    )
    async with anyio.create_task_group() as group:
        # Runs once the loop below waits in the watcher thread, i.e. once edits are seen.
        group.start_soon(_announce, paths)
        async for changes in changes_seen:
            changed = sorted(path for _, path in changes)
            broken = _compile_errors(changed)
            if broken:
                _log.error(
                    "hot reload: the changed source does not compile, the old code keeps serving",
                    extra={"errors": broken},
                )
                continue
            _log.info(
                "hot reload: source changed, exiting so the host starts the new code",
                extra={"changed": changed[:10]},
            )
            await _wait_until_idle(server, server.plugin.shutdown_grace)
            server.close()
            return


async def _announce(paths: list[Path]) -> None:
    _log.info("hot reload: watching the source", extra={"paths": [str(p) for p in paths]})


def _compile_errors(paths: list[str]) -> list[str]:
    errors = []
    for path in paths:
        if not path.endswith(".py"):
            continue
        try:
            source = Path(path).read_bytes()
        except OSError:  # deleted or renamed: the import will tell
            continue
        try:
            compile(source, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            errors.append(f"{path}: {error}")
    return errors


async def _wait_until_idle(server: PluginServer, limit: float) -> None:
    # Leave between calls: one that arrives while the server drains would get UNAVAILABLE.
    deadline = time.monotonic() + limit
    while server.tracker.in_flight and time.monotonic() < deadline:  # noqa: ASYNC110
        await anyio.sleep(_IDLE_POLL_SECONDS)
