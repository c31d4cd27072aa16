"""Parsing what crosses the wire from the host's side: handshake lines, hclog lines, manifests."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plutono_plugin._host.wire import (
    executable_path,
    parse_handshake,
    parse_log_line,
    read_manifest,
)
from plutono_plugin.errors import ConfigurationError, HandshakeError
from tests._tools import write_shell_plugin

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="shell-script plugins")


# -- handshake line (contract 1.6) ---------------------------------------------------------------


def test_handshake_unix_and_tcp_lines_parse() -> None:
    unix = parse_handshake("1|2|unix|/tmp/plugin123|grpc|\n")
    assert (unix.network, unix.address, unix.protocol, unix.server_cert) == (
        "unix",
        "/tmp/plugin123",
        "grpc",
        "",
    )
    tcp = parse_handshake("  1|2|tcp|127.0.0.1:10000|grpc|\r\n")
    assert (tcp.network, tcp.address, tcp.app_version) == ("tcp", "127.0.0.1:10000", 2)


def test_handshake_without_sixth_field_and_with_short_extra_field_is_accepted() -> None:
    assert parse_handshake("1|2|unix|/tmp/p|grpc").server_cert == ""
    # go-plugin only reads field 6 when it is longer than 50 characters.
    assert parse_handshake("1|2|unix|/tmp/p|grpc|extra").server_cert == "extra"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hello world", "Unrecognized remote plugin message"),
        ("1|2|unix", "Unrecognized remote plugin message"),
        ("", "Unrecognized remote plugin message"),
        ("x|2|unix|/tmp/p|grpc|", "Error parsing core protocol version"),
        ("2|2|unix|/tmp/p|grpc|", "Incompatible core API version"),
        ("1|two|unix|/tmp/p|grpc|", "Error parsing protocol version"),
        ("1|3|unix|/tmp/p|grpc|", "Incompatible API version with plugin. Plugin version: 3"),
        ("1|1|unix|/tmp/p|grpc|", "legacy"),
        ("1|2|pipe|/tmp/p|grpc|", "Unknown address type: /tmp/p"),
        ("1|2|tcp|localhost|grpc|", "not a 'host:port'"),
        ("1|2|unix|/tmp/p", 'Unsupported plugin protocol "netrpc"'),
        ("1|2|unix|/tmp/p|netrpc|", 'Unsupported plugin protocol "netrpc"'),
        ("1|2|unix|/tmp/p|grpc|" + "A" * 51, "AutoMTLS"),
    ],
)
def test_handshake_failures_name_the_problem(line: str, expected: str) -> None:
    with pytest.raises(HandshakeError, match=expected.replace("(", r"\(").replace(".", r"\.")):
        parse_handshake(line)


# -- stderr log lines (contract 1.11) ------------------------------------------------------------


def test_hclog_json_line_becomes_a_record_with_fields() -> None:
    line = json.dumps(
        {
            "@level": "warn",
            "@message": "slow query",
            "@timestamp": "2021-02-11T15:30:53.123456+01:00",
            "@module": "plugin",
            "refId": "A",
            "ms": 1500,
        }
    )
    record, problem = parse_log_line(line)
    assert problem is None
    assert (record.level, record.message) == ("warn", "slow query")
    assert record.fields == {"@module": "plugin", "refId": "A", "ms": 1500}
    assert record.timestamp == datetime(2021, 2, 11, 14, 30, 53, 123456, tzinfo=UTC)
    assert "slow query" in str(record) and "refId=A" in str(record)


@pytest.mark.parametrize(
    ("line", "level"),
    [("[WARN] disk almost full", "warn"), ("[ERROR] boom", "error"), ("plain text", "debug")],
)
def test_non_json_lines_are_raw_with_the_prefix_level(line: str, level: str) -> None:
    record, problem = parse_log_line(line)
    assert (record.level, record.message, problem) == (level, line, None)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"@level": "info", "@message": 42}, "crashes"),
        ({"@level": 3, "@message": "x"}, "crashes"),
        ({"@level": "info", "@message": "x", "@timestamp": "2021-02-11T15:30:53.123Z"}, "layout"),
        (
            {"@level": "info", "@message": "x", "@timestamp": "2021-02-11T15:30:53.123456+0100"},
            "layout",
        ),
        ({"@level": "notice", "@message": "x"}, "no known @level"),
        ({"@message": "x"}, "no known @level"),
    ],
)
def test_log_lines_plutono_mishandles_are_raw_debug_and_reported(
    entry: dict[str, object], expected: str
) -> None:
    line = json.dumps(entry)
    record, problem = parse_log_line(line)
    assert (record.level, record.message) == ("debug", line)
    assert problem is not None and expected in problem


# -- requests as Plutono builds them (contract 2.4.1) ----------------------------------------------


def test_manifest_and_executable_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a plugin directory"):
        read_manifest(tmp_path)
    (tmp_path / "plugin.json").write_text('{"id": "x", "type": "datasource"}')
    with pytest.raises(ConfigurationError, match='"backend": true'):
        read_manifest(tmp_path)
    folder = write_shell_plugin(tmp_path / "p", "exit 0\n")
    name = executable_path(read_manifest(folder)).name
    assert name.startswith("gpx_test_") and name.count("_") == 3
