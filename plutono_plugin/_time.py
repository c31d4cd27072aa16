"""The one epoch every conversion between datetimes and wire integers counts from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

__all__ = ("EPOCH",)

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""The Unix epoch, aware UTC: wire times are ms (time ranges) or ns (frames) since it."""
