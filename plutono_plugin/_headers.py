"""Read-only multi-maps for resource calls: HTTP headers (case-insensitive) and query strings.

Header names are stored Go-canonical (``content-type`` → ``Content-Type``), because Plutono
compares ``Content-Type`` and ``Set-Cookie`` case-sensitively (contract 2.4.4).
"""

from __future__ import annotations

import re
from collections.abc import ItemsView, Iterable, Iterator, Mapping
from urllib.parse import parse_qsl

__all__ = (
    "Headers",
    "HeadersInput",
    "QueryParams",
    "SecretValue",
    "canonical_header_name",
    "is_header_name",
    "is_secret_header",
)

HeadersInput = Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]]
"""A mapping of names to one value or a list of values, or ``(name, value)`` pairs."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REDACTED = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SECRET_WORDS = re.compile(
    # "auth" but not an author ("author", "authors", "authorName")
    r"token|secret|passw|api[-_]?key|private[-_]?key|auth(?!ors?(?:[-_]?name)?$)|session"
    r"|credential|signature",
    re.I,
)


class SecretValue(str):
    """A credential: itself for every use (``str()``, ``==``, sending it on), hidden in ``repr``.

    Header values whose name :func:`is_secret_header` are kept as ``SecretValue``, so the
    forms a logger produces — ``%r``, ``dict(headers)`` and any container printed with
    ``%s`` — show ``'<redacted>'``; the hclog formatter writes ``"<redacted>"`` for it.

    Example::

        token = SecretValue("Bearer abc")
        assert token == "Bearer abc" and f"{token}" == "Bearer abc"
        assert repr(token) == "'<redacted>'" and "abc" not in str({"Authorization": token})
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


def redact_secret_values(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``pairs`` with the value of every secret name wrapped in :class:`SecretValue`."""
    return [
        (name, SecretValue(value) if is_secret_header(name) else value) for name, value in pairs
    ]


def is_secret_header(name: str) -> bool:
    """Whether a header's value must not be shown: credentials, cookies, tokens.

    Beyond ``Authorization`` and cookies, any name mentioning a token, secret, password, API
    key, session or credential (``X-Id-Token``, ``X-Api-Key``, ``X-Auth-Request-Access-Token``).

    Example::

        assert is_secret_header("X-Id-Token") and not is_secret_header("Accept")
    """
    return name.lower() in _REDACTED or _SECRET_WORDS.search(name) is not None


def is_header_name(name: str) -> bool:
    """Whether ``name`` is a valid HTTP header name (an RFC 9110 token, as Go checks)."""
    return _TOKEN.fullmatch(name) is not None


def canonical_header_name(name: str) -> str:
    """Go's ``CanonicalMIMEHeaderKey``: ``x-foo-bar`` → ``X-Foo-Bar``.

    Like Go, a name containing a character that is not allowed in a header name (a space, say)
    is returned unchanged.

    Example::

        assert canonical_header_name("content-type") == "Content-Type"
    """
    if not _TOKEN.fullmatch(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


class _PairsView(ItemsView[str, str]):
    """``items()`` of a multi-map: every pair in order, repeated names included."""

    _mapping: _MultiMap

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._mapping.multi_items())

    def __len__(self) -> int:
        return len(self._mapping.multi_items())

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str):
            return False
        return item[1] in self._mapping.getall(item[0])


class _MultiMap(Mapping[str, str]):
    """Ordered ``(name, value)`` pairs.

    Like Starlette's and multidict's headers, ``items()`` yields every pair (repeated names
    included), while keys, ``len`` and ``map[name]`` see each name once with its first value.
    """

    __slots__ = ("_index", "_pairs")

    _pairs: tuple[tuple[str, str], ...]
    _index: dict[str, list[str]]

    def _key(self, name: str) -> str:
        return name

    def _load(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = tuple(pairs)
        self._index = {}
        for name, value in self._pairs:
            self._index.setdefault(self._key(name), []).append(value)

    def __getitem__(self, name: str) -> str:
        return self._index[self._key(name)][0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in self._index

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for name, _ in self._pairs:
            if self._key(name) not in seen:
                seen.add(self._key(name))
                yield name

    def __len__(self) -> int:
        return len(self._index)

    def getall(self, name: str) -> list[str]:
        """Every value for ``name`` in order (an empty list if absent)."""
        return list(self._index.get(self._key(name), ()))

    def items(self) -> ItemsView[str, str]:
        """Every ``(name, value)`` pair in order, repeated names included."""
        return _PairsView(self)

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair in order, repeated names included."""
        return list(self._pairs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _MultiMap):
            return type(self) is type(other) and self._index == other._index
        if isinstance(other, Mapping):
            return {name: self[name] for name in self} == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class Headers(_MultiMap):
    """Immutable, case-insensitive HTTP headers; names are kept Go-canonical.

    ``headers["content-type"]`` and ``headers.get("Content-Type")`` give the first value,
    ``getall`` every value; ``as_lists()`` is the shape of the protobuf header map. Credential
    values (``Authorization``, cookies, tokens: :func:`is_secret_header`) are
    :class:`SecretValue`: ``repr``, ``str``, ``dict(headers)`` and the hclog formatter hide them,
    so logging a request or its headers is safe.

    ``source`` is a mapping of names to one value or a list of values, or ``(name, value)``
    pairs (``None``: no headers); names and values must be ``str`` (``TypeError`` otherwise).

    Example::

        headers = Headers({"content-type": "text/csv", "X-Tag": ["a", "b"]})
        assert headers["Content-Type"] == "text/csv"
        assert headers.getall("x-tag") == ["a", "b"]
        assert list(headers) == ["Content-Type", "X-Tag"]
    """

    __slots__ = ()

    def __init__(self, source: HeadersInput | None = None) -> None:
        raw: list[tuple[object, object]] = []
        if isinstance(source, Mapping):
            for name, values in source.items():
                many = isinstance(values, Iterable) and not isinstance(values, str)
                raw.extend((name, value) for value in (values if many else [values]))
        elif source is not None:
            raw.extend(source)
        pairs: list[tuple[str, str]] = []
        for name, value in raw:
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(
                    f"header {name!r}: names and values must be str, got {value!r} "
                    f"({type(value).__name__})"
                )
            pairs.append((canonical_header_name(name), value))
        self._load(redact_secret_values(pairs))

    def _key(self, name: str) -> str:
        return name.lower()

    def as_lists(self) -> dict[str, list[str]]:
        """``{canonical name: [values]}``, the shape of ``CallResourceResponse.headers``."""
        return {name: self.getall(name) for name in self}

    def with_value(self, name: str, value: str) -> Headers:
        """A copy where ``name`` has exactly one value, ``value``."""
        return Headers([*self.without(name).multi_items(), (name, value)])

    def without(self, name: str) -> Headers:
        """A copy without any value for ``name``."""
        key = name.lower()
        return Headers([pair for pair in self._pairs if pair[0].lower() != key])

    def __repr__(self) -> str:
        shown = {
            name: ["<redacted>"] if is_secret_header(name) else self.getall(name) for name in self
        }
        return f"Headers({shown!r})"


class QueryParams(_MultiMap):
    """The parsed query string (``a=1&a=2&b=``), read-only; names are case-sensitive.

    Example::

        query = QueryParams("tag=a&tag=b&limit=5")
        assert query.get("limit") == "5" and query.getall("tag") == ["a", "b"]
    """

    __slots__ = ()

    def __init__(self, raw: str = "") -> None:
        self._load(parse_qsl(raw, keep_blank_values=True))

    def __repr__(self) -> str:
        return f"QueryParams({self.multi_items()!r})"
