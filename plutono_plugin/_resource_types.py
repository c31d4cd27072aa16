"""The request and response of ``CallResource``, as resource handlers see them (contract 2.4.4).

Re-exported by :mod:`plutono_plugin.resource`; defined here, below the routing code, so that
routes can recognise a handler's ``ResourceRequest`` parameter without an import cycle.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from ._headers import Headers, HeadersInput, QueryParams
from .context import RequestContext, User
from .errors import ResourceError

__all__ = ("ResourceRequest", "ResourceResponse")

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class ResourceRequest:
    """One ``CallResource`` request as the host sends it.

    ``path`` has no leading slash (``/api/datasources/1/resources/items/7`` arrives as
    ``items/7``); ``url`` is ``path`` plus ``?`` and the raw query. ``Authorization`` is forwarded
    by the host as-is; cookies are removed except the datasource's ``keepCookies``.

    Example::

        async def search(request: ResourceRequest) -> dict[str, object]:
            limit = int(request.query.get("limit", "10"))
            payload = request.json() if request.body else {}
            return {"user": request.user.login if request.user else None, "limit": limit}
    """

    method: str
    """The HTTP method, upper case (``GET``, ``POST``, ...)."""
    path: str
    """The path below the plugin's ``resources/``, without a leading slash (``items/7``)."""
    url: str = ""
    """``path`` plus ``?`` and the raw query string; defaults to ``path``."""
    headers: Headers = field(default_factory=Headers)
    """The request headers forwarded by the host (credential values hidden in reprs)."""
    body: bytes = b""
    """The request body as sent (empty when there is none); :meth:`json`/:meth:`text` read it."""
    context: RequestContext = field(default_factory=RequestContext)
    """Who calls, for which datasource or app: the :class:`RequestContext`."""
    path_params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The route's path parameters (``{item_id:int}``), converted; filled in by the router."""

    def __post_init__(self) -> None:
        if not self.url:
            object.__setattr__(self, "url", self.path)

    @cached_property
    def query(self) -> QueryParams:
        """The parsed query string (``get`` gives the first value, ``getall`` every value)."""
        return QueryParams(self.url.partition("?")[2])

    @property
    def user(self) -> User | None:
        """The signed-in Plutono user, if the host sent one."""
        return self.context.user

    def text(self) -> str:
        """The body decoded with the ``Content-Type`` charset (UTF-8 by default)."""
        charset = "utf-8"
        for parameter in self.headers.get("Content-Type", "").split(";")[1:]:
            key, _, value = parameter.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset)
        except (LookupError, UnicodeDecodeError) as error:
            raise ResourceError(
                f"request body is not {charset} text: {error}", status=400
            ) from None

    def json(self) -> Any:
        """The body parsed as JSON; :class:`ResourceError` 400 naming the problem if it is not."""
        if not self.body.strip():
            raise ResourceError("request body is empty, expected JSON", status=400)
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ResourceError(f"request body is not valid JSON: {error}", status=400) from None
        except RecursionError:
            raise ResourceError("request body JSON is nested too deeply", status=400) from None


class ResourceResponse:
    r"""Status, headers and a body: ``bytes`` or an async iterable of chunks (a streamed body).

    Handlers may also return a dict/list (JSON), ``str`` (text), ``bytes`` or an async iterator;
    :meth:`ResourceRouter.dispatch` turns those into a response.

    Example::

        async def export(request: ResourceRequest) -> ResourceResponse:
            async def rows() -> AsyncIterator[bytes]:
                for index in range(3):
                    yield f"{index}\n".encode()

            return ResourceResponse(rows(), content_type="text/csv", headers={"X-Rows": "3"})

        ResourceResponse.json({"error": "no such item"}, status=404)
    """

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        body: bytes | AsyncIterable[bytes] = b"",
        *,
        status: int = 200,
        headers: HeadersInput | None = None,
        content_type: str | None = None,
    ) -> None:
        if isinstance(body, bytearray | memoryview):
            body = bytes(body)
        elif not isinstance(body, bytes) and not hasattr(body, "__aiter__"):
            raise TypeError(
                f"response body must be bytes or an async iterable of bytes, "
                f"not {type(body).__name__}"
            )
        self.status = status
        self.headers = Headers(headers)
        if content_type is not None:
            self.headers = self.headers.with_value("Content-Type", content_type)
        self.body: bytes | AsyncIterable[bytes] = body

    @classmethod
    def json(
        cls, value: Any, *, status: int = 200, headers: HeadersInput | None = None
    ) -> ResourceResponse:
        """``value`` as compact UTF-8 JSON; ``TypeError``/``ValueError`` if it cannot be.

        ``status`` is the HTTP status (default 200), ``headers`` extra response headers; the
        ``Content-Type`` is ``application/json``.
        """
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return cls(encoded.encode(), status=status, headers=headers, content_type=JSON_CONTENT_TYPE)

    @classmethod
    def text(
        cls,
        value: str,
        *,
        status: int = 200,
        headers: HeadersInput | None = None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> ResourceResponse:
        """``value`` encoded as UTF-8 with a text content type.

        ``status`` is the HTTP status (default 200), ``headers`` extra response headers and
        ``content_type`` the ``Content-Type`` (default ``text/plain; charset=utf-8``).
        """
        return cls(value.encode(), status=status, headers=headers, content_type=content_type)

    @property
    def streaming(self) -> bool:
        """True when the body is an async iterable of chunks."""
        return not isinstance(self.body, bytes)

    async def iter_chunks(self) -> AsyncGenerator[bytes, None]:
        """The body as chunks: one for a ``bytes`` body (possibly empty), else each chunk.

        A response from :meth:`ResourceRouter.dispatch` always yields at least one chunk, so
        the first ``CallResourceResponse`` (status and headers) always has a body to carry.
        """
        if isinstance(self.body, bytes):
            yield self.body
        else:
            async for chunk in self.body:
                yield chunk

    async def aclose(self) -> None:
        """Close a streamed body that will not be read to the end (e.g. the client left)."""
        close = getattr(self.body, "aclose", None)
        if close is not None:
            await close()

    def __repr__(self) -> str:
        body = f"<{len(self.body)} bytes>" if isinstance(self.body, bytes) else "<stream>"
        return f"ResourceResponse(status={self.status}, headers={self.headers!r}, body={body})"
