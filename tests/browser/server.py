"""A small real HTTP server standing in for Plutono's: the page, the plugin files, the API.

It serves the harness page (``page/``: index.html, services.js, editors.js, plutono.css), the
bundle of shared libraries (``build/shared.js``) and every plugin directory under
``/public/plugins/<id>/`` (spec 8.1), keeps datasources in memory, and answers the routes the
frontend calls by calling the plugin under the Go host (``tests/interop/host``: go-plugin
v1.4.0 and the SDK v0.88.0 client types), mapping replies to HTTP as Plutono 7.5.49 does
(spec 2.4.1, 2.4.4, 2.4.5, 8.5, 8.6):

* ``POST /api/ds/query`` → ``QueryData``;
* ``GET /api/datasources/:id/health`` → ``CheckHealth``;
* ``ANY /api/datasources/:id/resources/*`` → ``CallResource``;
* ``GET|PUT /api/datasources/:id``, ``GET /api/plugins/:id/settings``,
  ``GET /api/frontend/settings`` from the in-memory store.
"""

from __future__ import annotations

import itertools
import json
import mimetypes
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.interop.gohost import GoHost, Query, body_bytes

HERE = Path(__file__).resolve().parent
PAGE = HERE / "page"
BUNDLE = HERE / "build" / "shared.js"
BLANK_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"></svg>'


@dataclass
class Plugin:
    """A built plugin directory, its plugin.json and the Go host running its backend."""

    directory: Path
    manifest: dict[str, Any]
    host: GoHost | None  # None: a frontend-only plugin (the harness's own checks)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def id(self) -> str:
        """The plugin id from plugin.json."""
        return str(self.manifest["id"])

    def meta(self) -> dict[str, Any]:
        """``meta`` as the frontend settings carry it (spec 8.2): plugin.json plus paths."""
        return {
            **self.manifest,
            "module": f"plugins/{self.id}/module",
            "baseUrl": f"public/plugins/{self.id}",
            "includes": self.manifest.get("includes", []),
            "info": {
                **self.manifest.get("info", {}),
                "logos": {"small": "public/img/icn-datasource.svg", "large": ""},
            },
        }


@dataclass
class DataSource:
    """One stored datasource: what ``PUT /api/datasources/:id`` edits."""

    id: int
    name: str
    plugin: Plugin
    json_data: dict[str, Any]
    secure: dict[str, str]
    version: int = 1
    updated_ms: int = field(default_factory=lambda: int(time.time()) * 1000)
    pinned_updated_ms: int | None = None  # every save "within the same second"

    def dto(self) -> dict[str, Any]:
        """``GET /api/datasources/:id`` (spec 8.4 ConfigEditor ``options``)."""
        return {
            "id": self.id,
            "uid": f"uid-{self.id}",
            "orgId": 1,
            "name": self.name,
            "type": self.plugin.id,
            "typeLogoUrl": "",
            "access": "proxy",
            "url": "",
            "password": "",
            "user": "",
            "database": "",
            "basicAuth": False,
            "basicAuthUser": "",
            "basicAuthPassword": "",
            "withCredentials": False,
            "isDefault": False,
            "jsonData": self.json_data,
            "secureJsonFields": {key: True for key in self.secure},
            "version": self.version,
            "readOnly": False,
        }

    def instance_settings(self) -> dict[str, Any]:
        """One entry of the frontend settings' ``datasources`` (spec 8.2 ``instanceSettings``)."""
        return {
            "id": self.id,
            "uid": f"uid-{self.id}",
            "type": self.plugin.id,
            "name": self.name,
            "isDefault": False,
            "url": f"/api/datasources/proxy/{self.id}",
            "jsonData": self.json_data,
            "meta": self.plugin.meta(),
        }

    def plugin_context(self) -> dict[str, Any]:
        """The ``pluginContext`` Plutono sends for this datasource (spec 2.4.1)."""
        return {
            "org_id": 1,
            "plugin_id": self.plugin.id,
            "user": {
                "login": "admin",
                "name": "admin",
                "email": "admin@localhost",
                "role": "Admin",
            },
            "datasource": {
                "id": self.id,
                "name": self.name,
                "url": "",
                "user": "",
                "database": "",
                "basic_auth_enabled": False,
                "basic_auth_user": "",
                "json_data": self.json_data,
                "decrypted_secure_json_data": self.secure,
                # Plutono stores "updated" to the second (issue 16's last bullet).
                "last_updated_ms": self.updated_ms,
            },
        }


class StandIn:
    """The server: start with :meth:`start`, add datasources, point the browser at :attr:`url`."""

    def __init__(self, plugins: Mapping[str, Plugin]) -> None:
        self.plugins = dict(plugins)
        self.datasources: dict[int, DataSource] = {}
        self.log: list[tuple[str, str, int]] = []  # (method, path, status)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        stand_in = self

        class Handler(_Handler):
            server_state = stand_in

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> StandIn:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def add_datasource(
        self,
        plugin_id: str,
        json_data: Mapping[str, Any] | None = None,
        secure: Mapping[str, str] | None = None,
    ) -> DataSource:
        """Create a datasource (as "Add data source" + provisioning would); returns it."""
        with self._lock:
            ds_id = next(self._ids)
            datasource = DataSource(
                ds_id,
                f"ds-{ds_id}",
                self.plugins[plugin_id],
                dict(json_data or {}),
                dict(secure or {}),
            )
            self.datasources[ds_id] = datasource
        return datasource

    def frontend_settings(self) -> dict[str, Any]:
        """``GET /api/frontend/settings``: the datasources by name."""
        with self._lock:
            listed = list(self.datasources.values())
        return {
            "datasources": {ds.name: ds.instance_settings() for ds in listed},
            "defaultDatasource": "-- Plutono --",
        }


class _Handler(BaseHTTPRequestHandler):
    server_state: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr log; requests are recorded in ``StandIn.log``."""

    def _send(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.server_state.log.append((self.command, self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: object) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _file(self, path: Path) -> None:
        if not path.is_file():
            self._json(404, {"message": "Not found"})
            return
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self._send(200, path.read_bytes(), content_type)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _datasource(self, ds_id: str) -> DataSource | None:
        if not ds_id.isdigit():
            return None
        return self.server_state.datasources.get(int(ds_id))

    def do_GET(self) -> None:
        self._route()

    def do_HEAD(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_PUT(self) -> None:
        self._route()

    def do_DELETE(self) -> None:
        self._route()

    def _route(self) -> None:
        url = urlsplit(self.path)
        parts = [part for part in url.path.split("/") if part]
        state = self.server_state
        method = self.command
        if method in ("GET", "HEAD") and parts in ([], ["index.html"]):
            self._file(PAGE / "index.html")
        elif method in ("GET", "HEAD") and parts in (
            ["services.js"],
            ["editors.js"],
            ["plutono.css"],
        ):
            self._file(PAGE / parts[0])
        elif method in ("GET", "HEAD") and parts == ["shared.js"]:
            self._file(BUNDLE)
        elif method in ("GET", "HEAD") and parts[:2] == ["public", "plugins"] and len(parts) > 3:
            plugin = state.plugins.get(parts[2])
            relative = Path(*parts[3:])
            if plugin is None or ".." in relative.parts:
                self._json(404, {"message": "Not found"})
            else:
                self._file(plugin.directory / relative)
        elif method in ("GET", "HEAD") and parts[:2] == ["public", "img"]:
            # Plutono's own images (the icons @grafana/ui's Icon fetches): a blank stand-in.
            self._send(200, BLANK_SVG, "image/svg+xml")
        elif parts == ["api", "frontend", "settings"]:
            self._json(200, state.frontend_settings())
        elif parts[:2] == ["api", "plugins"] and parts[3:] == ["settings"]:
            self._plugin_settings(parts[2])
        elif parts == ["api", "ds", "query"] and method == "POST":
            self._query()
        elif parts[:2] == ["api", "datasources"] and len(parts) >= 3:
            datasource = self._datasource(parts[2])
            if datasource is None:
                self._json(404, {"message": "Data source not found"})
            elif len(parts) == 3 and method == "GET":
                self._json(200, datasource.dto())
            elif len(parts) == 3 and method == "PUT":
                self._update(datasource)
            elif parts[3:] == ["health"]:
                self._health(datasource)
            elif len(parts) >= 4 and parts[3] == "resources":
                self._resource(datasource, "/".join(parts[4:]), url.query)
            else:
                self._json(404, {"message": "Not found"})
        else:
            self._json(404, {"message": "Not found"})

    def _plugin_settings(self, plugin_id: str) -> None:
        plugin = self.server_state.plugins.get(plugin_id)
        if plugin is None:
            self._json(404, {"message": "Plugin not found, no installed plugin with that id"})
            return
        meta = plugin.meta()
        # The PluginSetting DTO: no alerting, metrics or backend flags (spec 8.6).
        keys = ("name", "id", "info", "module", "baseUrl", "includes", "state", "signature")
        self._json(
            200,
            {"type": "datasource", "enabled": False, "pinned": False, "jsonData": {}}
            | {key: meta[key] for key in keys if key in meta},
        )

    def _update(self, datasource: DataSource) -> None:
        try:
            body = json.loads(self._body())
        except json.JSONDecodeError:
            self._json(400, {"message": "bad request data"})
            return
        if not isinstance(body, dict) or not body.get("name") or not body.get("type"):
            self._json(422, {"message": "name and type are required"})
            return
        if body.get("version") not in (None, datasource.version):
            self._json(
                409,
                {"message": "Datasource has already been updated by someone else. Please reload"},
            )
            return
        json_data = body.get("jsonData")
        datasource.json_data = json_data if isinstance(json_data, dict) else {}
        secure = body.get("secureJsonData")
        if isinstance(secure, dict) and secure:
            datasource.secure.update({str(k): str(v) for k, v in secure.items()})
        datasource.name = str(body["name"])
        datasource.version += 1
        datasource.updated_ms = datasource.pinned_updated_ms or int(time.time()) * 1000
        self._json(
            200,
            {
                "message": "Datasource updated",
                "id": datasource.id,
                "name": datasource.name,
                "datasource": datasource.dto(),
            },
        )

    def _query(self) -> None:
        try:
            body = json.loads(self._body())
        except json.JSONDecodeError:
            self._json(400, {"message": "bad request data"})
            return
        queries = body.get("queries") if isinstance(body, dict) else None
        if not isinstance(queries, list) or not queries:
            self._json(400, {"message": "No queries found in query"})
            return
        if not all(isinstance(q, dict) and isinstance(q.get("datasourceId"), int) for q in queries):
            self._json(400, {"message": "Query missing data source ID"})
            return
        datasource = self.server_state.datasources.get(queries[0]["datasourceId"])
        if datasource is None:
            self._json(400, {"message": "Invalid data source ID"})
            return
        from_ms, to_ms = int(body.get("from") or 0), int(body.get("to") or 0)
        sent: list[Query] = [
            {
                "ref_id": str(q.get("refId") or "A"),
                "query_type": str(q.get("queryType") or ""),
                "json": q,
                "from_ms": from_ms,
                "to_ms": to_ms,
                "interval_ms": int(q.get("intervalMs") or 1000),
                "max_data_points": int(q.get("maxDataPoints") or 100),
            }
            for q in queries
        ]
        host = datasource.plugin.host
        if host is None:
            self._json(404, {"message": "Plugin not found"})
            return
        with datasource.plugin.lock:
            reply = host.query(sent, plugin_context=datasource.plugin_context())
        if not reply["ok"]:
            self._json(500, {"message": "Metric request error", "error": reply.get("error", "")})
            return
        results: dict[str, Any] = {}
        status, message = 200, None
        for ref_id, response in reply.get("responses", {}).items():
            result: dict[str, Any] = {
                "refId": ref_id,
                "series": None,
                "tables": None,
                "dataframes": response["frames_base64"],
            }
            if response["error"]:
                result["error"] = response["error"]
                status, message = 400, response["error"]
            results[ref_id] = result
        payload: dict[str, Any] = {"results": results}
        if message is not None:
            payload["message"] = message
        self._json(status, payload)

    def _health(self, datasource: DataSource) -> None:
        host = datasource.plugin.host
        if host is None:
            self._json(404, {"message": "Plugin not found"})
            return
        with datasource.plugin.lock:
            reply = host.check_health(datasource.plugin_context())
        if not reply["ok"]:
            if reply.get("unavailable"):
                self._json(503, {"message": "Plugin unavailable"})
            elif reply.get("grpc_code") == "Unimplemented":
                self._json(503, {"status": "UNKNOWN", "message": "Health check not implemented"})
            else:
                self._json(500, {"message": "Plugin health check failed"})
            return
        payload: dict[str, Any] = {
            "status": reply.get("status"),
            "message": reply.get("message", ""),
        }
        if reply.get("details_json"):
            payload["details"] = json.loads(reply["details_json"])
        self._json(200 if payload["status"] == "OK" else 503, payload)

    def _resource(self, datasource: DataSource, path: str, query: str) -> None:
        body = self._body()
        headers: dict[str, list[str]] = {}
        for key, value in self.headers.items():
            canonical = "-".join(part.capitalize() for part in key.split("-"))
            if canonical in ("Cookie", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Proto"):
                continue
            headers.setdefault(canonical, []).append(value)
        headers["X-Forwarded-For"] = [self.client_address[0]]
        host = datasource.plugin.host
        if host is None:
            self._json(404, {"message": "Plugin not found"})
            return
        with datasource.plugin.lock:
            reply = host.resource(
                path,
                method=self.command,
                url=path + (f"?{query}" if query else ""),
                headers=headers,
                body=body,
                plugin_context=datasource.plugin_context(),
            )
        if not reply["ok"]:
            if reply.get("unavailable"):
                self._json(503, {"message": "Plugin unavailable"})
            elif reply.get("grpc_code") == "Unimplemented":
                self._json(404, {"message": "Not found"})
            else:
                self._json(500, {"message": "Failed to call resource"})
            return
        messages = reply["messages"]
        if not messages:
            self._send(200, b"", "application/json")
            return
        first = messages[0]
        extra = {
            key: values[0]
            for key, values in first["headers"].items()
            if key not in ("Content-Type", "Set-Cookie", "Content-Length") and values
        }
        extra["Content-Security-Policy"] = "sandbox"
        content_type = (first["headers"].get("Content-Type") or ["application/json"])[0]
        content = b"".join(body_bytes(message) for message in messages)
        self._send(first["code"], content, content_type, extra)
