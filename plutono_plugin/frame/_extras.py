"""Which optional extra a frame operation needs, said before anything is half done.

Frames are built and written without any Arrow library; pyarrow (``plutono-plugin[arrow]``)
is needed to decode frames, to convert to or from pyarrow, and for the reshape helpers;
pandas and polars data need their extra, which brings pyarrow along.
"""

from __future__ import annotations

from ..errors import ConfigurationError

__all__ = ("require",)

_PACKAGES = {
    "arrow": ("pyarrow",),
    "pandas": ("pandas", "pyarrow"),
    "polars": ("polars", "pyarrow"),
}


def require(what: str, extra: str = "arrow") -> None:
    """Raise :class:`ConfigurationError` naming ``extra`` unless its packages import.

    Example::

        require("Frame.to_wide()")  # pyarrow missing: "... install plutono-plugin[arrow] ..."
    """
    for package in _PACKAGES[extra]:
        try:
            __import__(package)
        except ImportError:
            raise ConfigurationError(
                f"{what} needs {package}, which is not installed: install "
                f"plutono-plugin[{extra}], or add {package} to the plugin's requirements.txt"
            ) from None
