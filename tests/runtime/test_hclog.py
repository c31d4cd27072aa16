"""hclog JSON formatting (contract 1.11): whatever a caller logs, the host can parse the line."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from plutono_plugin._runtime.hclog import MAX_LINE_BYTES, TRACE, HclogFormatter, configure_logging
from plutono_plugin.context import DataSourceSettings, PluginContext, RequestContext, Secrets

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(HclogFormatter())
    logger = logging.getLogger("test.hclog")
    logger.addHandler(handler)
    logger.setLevel(TRACE)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    parsed = []
    for line in stream.getvalue().splitlines():
        assert len(line.encode()) + 1 <= MAX_LINE_BYTES + 1
        parsed.append(json.loads(line))
    return parsed


def test_levels_and_special_keys_are_strings(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.log(TRACE, "t")
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    logger.error("e")
    logger.critical("c")
    records = lines(stream)
    assert [r["@level"] for r in records] == ["trace", "debug", "info", "warn", "error", "error"]
    for record in records:
        assert isinstance(record["@message"], str)
        assert isinstance(record["@timestamp"], str) and TIMESTAMP.match(record["@timestamp"])
        assert record["@module"] == "test.hclog"


def test_non_string_messages_and_extras_become_json_safe(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info(42)
    logger.info(b"bytes message")
    logger.info(
        "extras",
        extra={
            "n": float("inf"),
            "b": b"\xff\x01",
            "e": ValueError("nope"),
            "obj": object,
            "@message": 7,
            "tags": {1: {2.5, None}},
        },
    )
    first, second, third = lines(stream)
    assert first["@message"] == "42" and second["@message"] == "b'bytes message'"
    assert third["@message"] == "extras"
    assert third["n"] == "inf" and third["e"] == "ValueError: nope"
    assert isinstance(third["b"], str) and third["extra.@message"] == "7"  # Plutono: "7"
    assert third["tags"] == {"1": [2.5, None]} or third["tags"] == {"1": [None, 2.5]}


def test_exceptions_go_into_a_traceback_key(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    (record,) = lines(stream)
    assert record["@message"] == "failed"
    assert "RuntimeError: boom" in str(record["traceback"])


def test_long_lines_are_truncated_below_64_kib(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info("\u00e9" * 70_000, extra={"big": "x" * 100_000, "other": ["y" * 50_000]})
    (record,) = lines(stream)
    assert record["truncated"] is True
    assert str(record["@message"]).endswith("[truncated]")


def test_secrets_never_appear_when_a_context_is_logged(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    settings = DataSourceSettings(id=1, decrypted_secure_json_data=Secrets({"apiKey": "s3cr3t"}))
    context = RequestContext(PluginContext(datasource=settings))
    logger.info("context %s", context, extra={"context": context, "settings": settings})
    text = stream.getvalue()
    assert "apiKey" in text and "s3cr3t" not in text


def test_configure_logging_routes_root_records_and_quiets_the_transport() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("info", stream)
        logging.getLogger("my.plugin").info("hello")
        logging.getLogger("my.plugin").debug("hidden")
        logging.getLogger("grpclib.server").info("Request was cancelled")
        logging.getLogger("hpack").warning("hpack warnings still show")
        (first, second) = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert first["@message"] == "hello" and first["@level"] == "info"
        assert second["@module"] == "hpack"
        configure_logging("debug", stream)
        logging.getLogger("hpack").debug("frame noise")
        assert "frame noise" not in stream.getvalue()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.captureWarnings(False)


def test_http_client_chatter_shows_at_trace_only() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("debug", stream)
        logging.getLogger("httpcore.http11").debug("send_request_headers.started")
        logging.getLogger("httpx").info("HTTP Request: GET http://upstream 200")
        logging.getLogger("httpx").warning("upstream certificate problem")
        assert "send_request_headers" not in stream.getvalue()
        assert "HTTP Request" not in stream.getvalue()
        assert "certificate problem" in stream.getvalue()
        configure_logging("trace", stream)
        logging.getLogger("httpcore.http11").debug("asked for at trace")
        assert "asked for at trace" in stream.getvalue()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.captureWarnings(False)
        for name in ("httpcore", "httpx"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_credentials_are_redacted_at_any_depth(capture: tuple[logging.Logger, io.StringIO]) -> None:
    from plutono_plugin._headers import Headers, SecretValue

    logger, stream = capture
    headers = Headers({"Authorization": "Bearer t0k", "Accept": "json"})
    logger.info(
        "call",
        extra={
            "password": "pw1",
            "api_key": b"k3y",
            "upstream": {"config": [{"token": "t1", "session_count": 2, "oauth": True}]},
            "values": [SecretValue("hidden"), "shown"],
            "headers": headers,
            "author": "Ann",
        },
    )

    [record] = lines(stream)
    assert record["password"] == "<redacted>" and record["api_key"] == "<redacted>"
    assert record["upstream"] == {
        "config": [{"token": "<redacted>", "session_count": "2", "oauth": True}]
    }
    assert record["values"] == ["<redacted>", "shown"]
    assert record["headers"] == {"Authorization": "<redacted>", "Accept": "json"}
    assert record["author"] == "Ann"  # "auth" in a name is not enough
    assert "t0k" not in stream.getvalue() and "pw1" not in stream.getvalue()


def test_message_arguments_hide_credentials_and_keep_their_own_text(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    """A mapping passed as the arguments prints as itself; only a SecretValue is replaced."""
    from collections import defaultdict

    from plutono_plugin._headers import Headers, SecretValue

    logger, stream = capture
    headers = Headers({"Accept": ["a", "b"], "Cookie": "s=1"})
    logger.info("%s", headers)  # logging passes the mapping itself as the arguments
    logger.info("%(who)s %(token)s %(missing)s", defaultdict(str, who="me", token=SecretValue("t")))
    logger.info("%s", SecretValue("t2"))
    for msg in ("raw %s", "unformattable %s %s"):  # the second falls back to msg and args
        record = logging.makeLogRecord({"msg": msg, "args": SecretValue("t3"), "levelno": 20})
        stream.write(HclogFormatter().format(record) + "\n")

    messages = [line["@message"] for line in lines(stream)]
    assert messages == [
        "Headers({'Accept': ['a', 'b'], 'Cookie': ['<redacted>']})",
        "me <redacted> ",
        "<redacted>",
        "raw <redacted>",
        "unformattable %s %s <redacted>",
    ]
