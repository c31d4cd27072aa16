"""Runtime hardening of issue 17 that needs no host: log fields, worker threads, the watchdog."""

from __future__ import annotations

import io
import json
import logging

from plutono_plugin._calls import log_fields
from plutono_plugin._runtime.hclog import HclogFormatter


def test_integers_are_written_so_plutono_prints_them_as_integers() -> None:
    # go-plugin decodes JSON numbers as float64 and Plutono prints "19.000" (issue 17).
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(HclogFormatter())
    logger = logging.getLogger("plutono_plugin.test.ints")
    logger.addHandler(handler)
    try:
        with log_fields(orgId=1, datasourceId=19):
            logger.warning("ids", extra={"rows": 5, "ok": True, "ratio": 0.5})
    finally:
        logger.removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert (record["orgId"], record["datasourceId"], record["rows"]) == ("1", "19", "5")
    assert record["ok"] is True and record["ratio"] == 0.5
