"""SSRF: a subscriber chooses the URL huying calls, so huying must not be made to call into its own
network. Only http(s) URLs whose every address is public are taken — loopback, link-local,
private, shared (CGNAT), multicast and reserved ranges are refused unless the deployment allows
them (``HUYING_WEBHOOKS_ALLOW_PRIVATE_URLS``, for tests and closed networks). Checked when a URL is
subscribed, and again at every delivery, against the address the request then goes to (a name
may resolve elsewhere later: the delivery connects to the very address it checked)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from huying.domain.errors import InvalidCommand

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """A delivery address huying will not call."""


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable webhook URL; 422 naming ``url`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidCommand("url", "give an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise InvalidCommand("url", "no credentials in the URL: receivers check the signature instead")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise InvalidCommand("url", "a URL has no spaces or control characters")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidCommand("url", "the port is not a number from 1 to 65535") from None
    return parts.scheme, parts.hostname, port


def literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refusal(address: Address) -> str | None:
    """Why huying will not call this address, or None if it is public."""
    mapped = getattr(address, "ipv4_mapped", None)
    target = mapped or address
    if target.is_loopback:
        return "a loopback address"
    if target.is_link_local:
        return "a link-local address"
    if target.is_multicast or target.is_unspecified or target.is_reserved:
        return "not a unicast address"
    if target.is_private or not target.is_global:
        return "a private address"
    return None


def check_address(address: Address, allow_private: bool) -> None:
    reason = None if allow_private else refusal(address)
    if reason is not None:
        raise Refused(f"{address} is {reason}")


def check_subscribable(url: str, allow_private: bool) -> None:
    """At subscription: the URL's form, and its host where that alone says enough (an address, or
    a name of this host); names are checked against what they resolve to at each delivery."""
    _, host, _ = check_url(url)
    address = literal(host)
    if address is None and (host.lower() == "localhost" or host.lower().endswith(".localhost")):
        address = ipaddress.ip_address("127.0.0.1")
    if address is not None:
        try:
            check_address(address, allow_private)
        except Refused as e:
            raise InvalidCommand("url", f"{e}: webhooks go to public addresses only") from None
