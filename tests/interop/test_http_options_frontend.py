"""HTTPOptions in the real frontend: the generated settings page shows Plutono's HTTP section.

The page is rendered by the real React/@grafana 7.5.17 stack (``drive.js``, as in
``test_frontend.py``); what it saves is sent back through the Python side, to the client
settings ``http_client(options)`` uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from plutono_plugin import DataSourceSettings, Plugin, Secret, Secrets
from plutono_plugin.frontend import frontend_schema, render_module
from plutono_plugin.http import HTTPSettings
from plutono_plugin.http_options import HTTPOptions, secret_header
from plutono_plugin.options import decode_options
from tests.interop.test_frontend import drive, events

pytestmark = pytest.mark.node


@dataclass
class WeatherOptions(HTTPOptions):
    api_key: Secret | None = secret_header("X-API-Key")
    """Sent as the X-API-Key header."""
    city: str = "berlin"
    """The city to report."""


HTTP_SECTION = [
    "URL",
    "Timeout (s)",
    "Basic auth",
    "TLS Client Auth",
    "With CA Cert",
    "ServerName",
    "Skip TLS Verify",
    "Forward OAuth Identity",
    "Custom HTTP Headers",
]


def test_switches_show_their_fields_and_the_saved_settings_configure_the_client(
    tmp_path: Path,
) -> None:
    module = tmp_path / "module.js"
    module.write_text(render_module(frontend_schema(Plugin(options=WeatherOptions))))
    options = {"id": 3, "name": "weather", "jsonData": {}, "secureJsonFields": {}}
    config, switched, _user, _password, key = drive(
        module,
        [
            {"do": "config", "options": options},
            {"do": "toggle", "label": "Basic auth"},
            {"do": "input", "label": "User", "text": "ann"},
            {"do": "input", "label": "Password", "text": "pw"},
            {"do": "input", "label": "Api key", "text": "k3y"},
        ],
    )
    labels = [label for label in config["result"]["labels"] if label]
    assert labels == [*HTTP_SECTION, "Api key", "City"]
    assert "User" in switched["result"]["labels"] and "Password" in switched["result"]["labels"]
    saved = events(key, "onOptionsChange")[-1]
    assert saved["jsonData"] == {"basicAuth": True, "basicAuthUser": "ann"}
    assert saved["secureJsonData"] == {"basicAuthPassword": "pw", "apiKey": "k3y"}
    settings = DataSourceSettings(
        id=3,
        name="weather",
        raw_json_data=json.dumps(saved["jsonData"]).encode(),
        decrypted_secure_json_data=Secrets(saved["secureJsonData"]),
    )
    client = HTTPSettings.from_options(decode_options(WeatherOptions, settings))
    assert client.basic_auth == ("ann", "pw") and client.headers == {"X-API-Key": "k3y"}
