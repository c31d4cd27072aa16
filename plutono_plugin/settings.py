"""Process settings, read once from the environment Plutono gives the plugin (contract 1.2).

Plutono passes every key of the ini section ``[plugin.<id>]`` as ``PL_PLUGIN_<UPPERCASE KEY>``,
plus ``PL_VERSION`` and ``PL_EDITION``. Keys are only upper-cased by the host, so
:attr:`Settings.plugin_config` gives them back lower-cased (``log_level``, ``api_url``, ...).
Note that the plugin inherits Plutono's whole environment, which may override these (1.2 item 4).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

__all__ = ("LOG_LEVELS", "Settings")

LOG_LEVELS: Final = ("trace", "debug", "info", "warn", "error")
"""hclog level names in increasing severity (contract 1.11)."""

_PLUGIN_PREFIX = "PL_PLUGIN_"


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Settings:
    """What the host told the plugin process at start-up; frozen, safe to share.

    Example::

        settings = Settings.from_environ({"PL_PLUGIN_API_URL": "http://x", "PL_VERSION": "7.5.49"})
        assert settings.plugin_config["api_url"] == "http://x"
        assert settings.host_version == "7.5.49"
    """

    plugin_config: Mapping[str, str] = field(default_factory=_empty)
    """``[plugin.<id>]`` ini keys (lower-cased) and their values."""
    host_version: str = ""
    """``PL_VERSION``: the Plutono build version, e.g. ``7.5.49``."""
    host_edition: str = ""
    """``PL_EDITION``: ``Open Source`` for OSS builds."""
    log_level: str = "debug"
    """Minimum level of the plugin's log (``[plugin.<id>] log_level``; default ``debug``)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (default: ``os.environ``).

        An unknown ``log_level`` falls back to ``debug`` rather than refusing to start:
        a typo in an ini file must not keep a datasource down (start failures are permanent, 1.8).
        """
        env = os.environ if environ is None else environ
        config = {
            key[len(_PLUGIN_PREFIX) :].lower(): value
            for key, value in env.items()
            if key.startswith(_PLUGIN_PREFIX) and len(key) > len(_PLUGIN_PREFIX)
        }
        level = config.get("log_level", "debug").strip().lower()
        if level == "warning":
            level = "warn"
        if level not in LOG_LEVELS:
            level = "debug"
        return cls(
            plugin_config=MappingProxyType(config),
            host_version=env.get("PL_VERSION", ""),
            host_edition=env.get("PL_EDITION", ""),
            log_level=level,
        )
