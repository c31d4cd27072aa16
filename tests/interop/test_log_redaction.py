"""Credential headers never reach Plutono's log (issue 17 item 7), through the real Go host.

``tests/plugins/logheaders`` logs the call's headers in the five ways that leaked before; the
Go host (go-plugin v1.4.0) parses the plugin's stderr as Plutono does, and its records are
searched for the secrets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._prebuilt import prebuilt
from tests.interop.gohost import GoHost

pytestmark = pytest.mark.go

SECRETS = {
    "Authorization": "Bearer user-secret-token",
    "X-Id-Token": "eyJ.id-token.sig",
    "Cookie": "grafana_session=s3ss10n",
}


@pytest.fixture(scope="session")
def logheaders_dir(request: pytest.FixtureRequest) -> Path:
    """``tests/plugins/logheaders`` built before the first test (``tests/_prebuilt.py``)."""
    return prebuilt(request, "logheaders_dir")


def test_no_credential_reaches_the_hosts_log(go_host: GoHost, logheaders_dir: Path) -> None:
    reply = go_host.start(logheaders_dir, "plutono-logheaders-test-datasource")
    assert reply["ok"], reply

    answer = go_host.query([{"ref_id": "A", "json": {}}], headers=SECRETS)

    assert answer["ok"] and answer["responses"]["A"]["error"] == "", answer
    records = [r for r in go_host.logs()["records"] if str(r["logger"]).startswith("gpx_")]
    ways = [r for r in records if str(r["message"]).startswith("way ")]
    assert [str(r["message"]).split()[1] for r in ways] == ["1", "2", "3", "4", "5"]
    text = repr(ways)
    for value in SECRETS.values():
        assert value.split("=")[-1].split()[-1] not in text
    assert text.count("<redacted>") >= 10
