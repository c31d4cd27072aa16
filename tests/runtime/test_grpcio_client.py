"""The host-facing checks again with a plain grpcio client: a second, independent gRPC stack.

grpcio (C core) is what many non-Go hosts and tools use; the plugin must not depend on grpclib
being on both ends. The process is launched as the host launches it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from plutono_plugin import Frame
from plutono_plugin._proto import plugin as go_plugin
from plutono_plugin._proto import pluginv2
from plutono_plugin._proto.grpc.health import v1 as health
from tests.runtime.test_process import HANDSHAKE, host_env, read_handshake, stop

M = TypeVar("M")


class Client:
    """Unary and server-streaming calls with betterproto2 messages over a grpcio channel."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel

    def unary(self, path: str, request: Any, reply: type[M]) -> M:
        call: Callable[..., Any] = self.channel.unary_unary(
            path,
            request_serializer=bytes,
            response_deserializer=reply.FromString,  # type: ignore[attr-defined]
        )
        result: M = call(request, timeout=10)
        return result

    def stream(self, path: str, request: Any, reply: type[M]) -> list[M]:
        call: Callable[..., Any] = self.channel.unary_stream(
            path,
            request_serializer=bytes,
            response_deserializer=reply.FromString,  # type: ignore[attr-defined]
        )
        return list(call(request, timeout=10))


@pytest.fixture
def grpcio_plugin(
    quickstart_dir: Path, clean_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[Client, subprocess.Popen[bytes]]]:
    with launch_quickstart(quickstart_dir, clean_env, tmp_path) as process:
        match = HANDSHAKE.match(read_handshake(process).rstrip("\n"))
        assert match
        with grpc.insecure_channel(f"unix:{match.group(2)}") as channel:
            yield Client(channel), process
        stop(process)


def launch_quickstart(plugin_dir: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(plugin_dir / "gpx_quickstart_linux_amd64")],
        env=host_env(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def datasource_context() -> pluginv2.PluginContext:
    return pluginv2.PluginContext(
        org_id=1,
        plugin_id="plutono-quickstart-datasource",
        data_source_instance_settings=pluginv2.DataSourceInstanceSettings(
            id=1, name="grpcio", json_data=b"{}", last_updated_ms=1
        ),
    )


def test_grpcio_health_diagnostics_query_resource(
    grpcio_plugin: tuple[Client, subprocess.Popen[bytes]],
) -> None:
    client, _ = grpcio_plugin
    served = client.unary(
        "/grpc.health.v1.Health/Check",
        health.HealthCheckRequest(service="plugin"),
        health.HealthCheckResponse,
    )
    assert served.status == health.HealthCheckResponseServingStatus.SERVING

    checked = client.unary(
        "/pluginv2.Diagnostics/CheckHealth",
        pluginv2.CheckHealthRequest(plugin_context=datasource_context()),
        pluginv2.CheckHealthResponse,
    )
    assert checked.status == pluginv2.CheckHealthResponseHealthStatus.OK

    metrics = client.unary(
        "/pluginv2.Diagnostics/CollectMetrics",
        pluginv2.CollectMetricsRequest(),
        pluginv2.CollectMetricsResponse,
    )
    assert metrics.metrics is not None
    names = {f.name for f in text_string_to_metric_families(metrics.metrics.prometheus.decode())}
    assert "plutono_plugin_requests" in names

    now = int(time.time() * 1000)
    answer = client.unary(
        "/pluginv2.Data/QueryData",
        pluginv2.QueryDataRequest(
            plugin_context=datasource_context(),
            queries=[
                pluginv2.DataQuery(
                    ref_id="A",
                    query_type="sine",
                    max_data_points=50,
                    interval_ms=1000,
                    time_range=pluginv2.TimeRange(from_epoch_ms=now - 3_600_000, to_epoch_ms=now),
                    json=b'{"refId": "A"}',
                ),
                pluginv2.DataQuery(ref_id="B", query_type="nope", json=b"{}"),
            ],
        ),
        pluginv2.QueryDataResponse,
    )
    frame = Frame.decode(answer.responses["A"].frames[0])
    assert [field.name for field in frame.fields] == ["time", "value"] and frame.rows == 50
    assert answer.responses["B"].error.startswith("no handler for query type 'nope'; ")

    messages = client.stream(
        "/pluginv2.Resource/CallResource",
        pluginv2.CallResourceRequest(
            plugin_context=datasource_context(), method="GET", path="stream", url="stream?chunks=4"
        ),
        pluginv2.CallResourceResponse,
    )
    assert messages[0].code == 200
    assert messages[0].headers["Content-Type"].values == ["text/plain; charset=utf-8"]
    assert [m.body for m in messages] == [f"chunk {i}\n".encode() for i in range(4)]
    assert all(m.code == 0 and not m.headers for m in messages[1:])


def test_grpcio_unknown_service_is_unimplemented_and_shutdown_exits_0(
    grpcio_plugin: tuple[Client, subprocess.Popen[bytes]],
) -> None:
    client, process = grpcio_plugin
    with pytest.raises(grpc.RpcError) as raised:
        client.unary(
            "/pluginv2.Renderer/Render", pluginv2.User(), pluginv2.User
        )  # any message: the path decides
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    client.unary("/plugin.GRPCController/Shutdown", go_plugin.Empty(), go_plugin.Empty)
    assert process.wait(2) == 0
