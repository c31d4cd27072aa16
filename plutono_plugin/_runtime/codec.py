"""The protobuf codec with the receive limit grpclib lacks (contract 5.2) and strict wire types.

betterproto2 decodes leniently: a message field sent as a varint is kept as an ``int`` (the
handler then fails with UNKNOWN), and a field with wire type 3, 4, 6 or 7 is skipped without
consuming its bytes (the rest is misread, sometimes accepted). Go's protobuf, which decodes
requests for the Go SDK, refuses both. :func:`check_wire` walks the bytes first and refuses
a wire type that does not fit the declared field, or that does not exist, naming the field:
the call fails with INVALID_ARGUMENT (transport module).
"""

from __future__ import annotations

from typing import Any, Final

import betterproto2
from grpclib import GRPCError
from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec

from .._proto import pluginv2

__all__ = ("LimitedProtoCodec", "WireError", "check_wire")

_REQUEST_TYPES = frozenset(
    (
        pluginv2.QueryDataRequest,
        pluginv2.CallResourceRequest,
        pluginv2.CheckHealthRequest,
        pluginv2.CollectMetricsRequest,
    )
)


class LimitedProtoCodec(ProtoCodec):
    """Protobuf codec refusing requests above a size (grpclib has no receive limit of its own).

    The Go SDK's server accepts 16 MiB by default (contract 5.2). Only the plugin's request
    messages are limited, so the same codec can serve an in-memory client, whose responses
    stay unlimited.
    """

    def __init__(self, max_receive_message_size: int) -> None:
        self.max_receive_message_size = max_receive_message_size

    def decode(self, data: bytes, message_type: Any) -> Any:
        """Decode, or fail the call with RESOURCE_EXHAUSTED naming both sizes."""
        if len(data) > self.max_receive_message_size and message_type in _REQUEST_TYPES:
            raise GRPCError(
                Status.RESOURCE_EXHAUSTED,
                f"request of {len(data)} bytes exceeds the plugin's limit of "
                f"{self.max_receive_message_size} bytes (max_receive_message_size)",
            )
        if message_type in _REQUEST_TYPES:
            check_wire(data, message_type)
        return super().decode(data, message_type)


class WireError(ValueError):
    """The bytes are not valid protobuf for the message type (names the field)."""


_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5
_WIRE_OF: Final = {
    **{kind: _VARINT for kind in betterproto2.WIRE_VARINT_TYPES},
    **{kind: _FIXED32 for kind in betterproto2.WIRE_FIXED_32_TYPES},
    **{kind: _FIXED64 for kind in betterproto2.WIRE_FIXED_64_TYPES},
    **{kind: _LENGTH_DELIMITED for kind in betterproto2.WIRE_LEN_DELIM_TYPES},
}
MAX_DEPTH: Final = 64
"""Nesting accepted (the protocol's messages nest 3 deep; Go's protobuf stops at 10,000)."""


def _varint(data: bytes, position: int, where: str) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data):
            raise WireError(f"{where}: the message ends inside a varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift >= 70:
            raise WireError(f"{where}: a varint longer than 10 bytes")


def check_wire(data: bytes, message_type: Any, where: str = "", depth: int = 0) -> None:
    """Raise :class:`WireError` unless every field of ``data`` has a wire type that fits."""
    if depth > MAX_DEPTH:
        raise WireError(f"{where or message_type.__name__}: nested deeper than {MAX_DEPTH}")
    meta = message_type._betterproto
    position = 0
    while position < len(data):
        key, position = _varint(data, position, where or message_type.__name__)
        number, wire = key >> 3, key & 7
        name = meta.field_name_by_number.get(number)
        field = meta.meta_by_field_name[name] if name is not None else None
        label = f"{where}.{name}" if where and name else name or f"{where}#{number}"
        label = label.lstrip(".") or message_type.__name__
        if wire not in (_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32):
            raise WireError(f"field {label}: wire type {wire} is not accepted")
        if field is not None:
            expected = _WIRE_OF.get(field.proto_type)
            packed = (
                wire == _LENGTH_DELIMITED
                and field.repeated
                and field.proto_type in betterproto2.PACKED_TYPES
            )
            if expected is not None and wire != expected and not packed:
                raise WireError(
                    f"field {label} ({field.proto_type}) sent with wire type {wire}, "
                    f"expected {expected}"
                )
        if wire == _VARINT:
            _, position = _varint(data, position, label)
        elif wire in (_FIXED64, _FIXED32):
            position += 8 if wire == _FIXED64 else 4
        else:
            length, position = _varint(data, position, label)
            end = position + length
            if end > len(data):
                raise WireError(f"field {label}: {length} bytes announced, fewer sent")
            if field is not None and field.proto_type in ("message", "map") and name:
                inner = meta.cls_by_field[name]
                check_wire(data[position:end], inner, label, depth + 1)
            position = end
        if position > len(data):
            raise WireError(f"field {label}: the message ends inside it")
