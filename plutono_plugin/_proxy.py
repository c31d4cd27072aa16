"""Which proxy a request goes through: Go's ``http.ProxyFromEnvironment``, rule for rule.

Plutono's data proxy and the Go SDK's HTTP clients take their proxy from the environment with
``golang.org/x/net/http/httpproxy`` (``FromEnvironment``, ``config.init``, ``useProxy``).
:class:`EnvironmentProxies` mirrors it, so a plugin's upstream calls take the same path as
Plutono's own:

* ``HTTP_PROXY`` for ``http://`` requests, ``HTTPS_PROXY`` for ``https://`` ones (no fallback
  from one to the other); the upper-case name wins when both are set and non-empty;
  ``ALL_PROXY`` is not read. ``HTTP_PROXY`` is ignored when ``REQUEST_METHOD`` is set (CGI).
* A proxy value without an ``http``/``https``/``socks5`` scheme means ``http://<value>``;
  an unusable value means no proxy.
* Never proxied: ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``).
* ``NO_PROXY``, comma-separated: ``*`` (nothing is proxied), an IP or CIDR block, an
  ``ip:port``, a host name matching itself and its subdomains (``example.com``), a leading dot
  or ``*.`` matching subdomains only (``.example.com``), each optionally with ``:port``.

Example::

    proxies = EnvironmentProxies.from_environment({"HTTPS_PROXY": "proxy:3128",
                                                   "NO_PROXY": ".internal"})
    assert proxies.proxy_for("https://api.example.com/x") == "http://proxy:3128"
    assert proxies.proxy_for("https://db.internal/x") == ""
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ("EnvironmentProxies",)

_DEFAULT_PORTS = {"http": "80", "https": "443", "socks5": "1080"}
_PROXY_SCHEMES = ("http", "https", "socks5")

_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _first(environment: Mapping[str, str], *names: str) -> str:
    """Go's ``getEnvAny``: the first of ``names`` that is set and not empty."""
    for name in names:
        if value := environment.get(name, ""):
            return value
    return ""


def _parse_proxy(value: str) -> str:
    """Go's ``parseProxy``: a URL with a known scheme and a host, else ``http://`` + value."""
    if not value:
        return ""
    for candidate in (value, f"http://{value}"):
        try:
            parts = urlsplit(candidate)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            continue
        if parts.scheme in _PROXY_SCHEMES and parts.hostname:
            return candidate
    return ""  # Go drops a proxy it cannot parse


def _host(text: str) -> str:
    return text[1:-1] if text.startswith("[") and text.endswith("]") else text


def _split_host_port(text: str) -> tuple[str, str] | None:
    """Go's ``net.SplitHostPort`` for NO_PROXY entries: ``None`` when there is no port."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not text[end + 1 :].startswith(":"):
            return None
        return text[1:end], text[end + 2 :]
    if text.count(":") != 1:
        return None
    host, port = text.split(":")
    return host, port


def _ip(text: str) -> _IPAddress | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # Go compares ::ffff:a.b.c.d as the IPv4 address
    return address


def _idna(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return host


@dataclass(frozen=True)
class _DomainRule:
    suffix: str  # always starts with "."
    port: str
    match_host: bool  # the entry had no leading dot: the host itself matches too


@dataclass(frozen=True)
class EnvironmentProxies:
    """The proxies and exceptions of one environment, decided per request URL."""

    http_proxy: str = ""
    https_proxy: str = ""
    no_proxy_all: bool = False
    networks: tuple[_IPNetwork, ...] = ()
    addresses: tuple[tuple[_IPAddress, str], ...] = ()
    domains: tuple[_DomainRule, ...] = ()

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> EnvironmentProxies:
        """Read ``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY`` (and lower-case forms)."""
        env = os.environ if environment is None else environment
        http_proxy = _parse_proxy(_first(env, "HTTP_PROXY", "http_proxy"))
        if env.get("REQUEST_METHOD"):
            http_proxy = ""  # Go refuses HTTP_PROXY in a CGI environment (httpoxy)
        https_proxy = _parse_proxy(_first(env, "HTTPS_PROXY", "https_proxy"))
        networks: list[_IPNetwork] = []
        addresses: list[tuple[_IPAddress, str]] = []
        domains: list[_DomainRule] = []
        for raw in _first(env, "NO_PROXY", "no_proxy").split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                return cls(http_proxy, https_proxy, no_proxy_all=True)
            if "/" in entry:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    pass  # Go: not a CIDR, read on as a host name
                else:
                    continue
            split = _split_host_port(entry)
            host, port = split if split is not None else (entry, "")
            if not host:
                continue
            host = _host(host)
            address = _ip(host)
            if address is not None:
                addresses.append((address, port))
                continue
            if host.startswith("*."):
                host = host[1:]
            match_host = not host.startswith(".")
            suffix = _idna(host if not match_host else f".{host}")
            domains.append(_DomainRule(suffix, port, match_host))
        return cls(
            http_proxy, https_proxy, False, tuple(networks), tuple(addresses), tuple(domains)
        )

    def proxy_for(self, url: str) -> str:
        """The proxy URL for a request to ``url``, or ``""`` to connect directly."""
        parts = urlsplit(url)
        proxy = {"https": self.https_proxy, "http": self.http_proxy}.get(parts.scheme, "")
        if not proxy:
            return ""
        host = _idna((parts.hostname or "").strip().lower())
        try:
            port = str(parts.port or _DEFAULT_PORTS.get(parts.scheme, ""))
        except ValueError:
            return proxy
        return proxy if self._use_proxy(host, port) else ""

    def _use_proxy(self, host: str, port: str) -> bool:
        """Go's ``useProxy``: never for localhost or loopback, else unless NO_PROXY matches."""
        if not host:
            return True
        address = _ip(host)
        if host == "localhost" or (address is not None and address.is_loopback):
            return False
        if self.no_proxy_all:
            return False
        if address is not None:
            if any(address in network for network in self.networks):
                return False
            if any(address == item and rule in ("", port) for item, rule in self.addresses):
                return False
        for rule in self.domains:
            matches = host.endswith(rule.suffix) or (rule.match_host and host == rule.suffix[1:])
            if matches and rule.port in ("", port):
                return False
        return True
