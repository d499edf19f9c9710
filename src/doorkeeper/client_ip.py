"""The client's IP address, honouring `X-Forwarded-For` only from trusted proxies."""

import ipaddress
from collections.abc import Collection
from functools import lru_cache

from starlette.requests import HTTPConnection

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=64)
def _networks(trusted_proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies)


def parse_trusted_proxies(trusted_proxies: Collection[str]) -> tuple[str, ...]:
    """Validate a list of addresses or CIDR blocks (raises `ValueError` on a bad one)."""
    entries = tuple(trusted_proxies)
    _networks(entries)
    return entries


def _parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(request: HTTPConnection, trusted_proxies: Collection[str] = ()) -> str | None:
    """The address of the client that sent `request`.

    The peer address is the answer unless the peer is one of `trusted_proxies`
    (addresses or CIDR blocks); then `X-Forwarded-For` is read from the right, skipping
    trusted proxies, and the first untrusted address is the client. A forged header
    from an untrusted peer changes nothing; a malformed entry stops the walk there.
    """
    peer = request.client.host if request.client is not None else None
    if not trusted_proxies or peer is None:
        return peer
    networks = _networks(tuple(trusted_proxies))

    def trusted(address: str) -> bool:
        parsed = _parse_address(address)
        return parsed is not None and any(parsed in network for network in networks)

    if not trusted(peer):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        if _parse_address(hop) is None:
            break
        client = hop
        if not trusted(hop):
            break
    return client
