"""Whether an endpoint is served by this machine: a loopback address, or one of this machine's
own addresses. Anything else is another machine, whose hardware rla cannot detect and whose
files it cannot read."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import psutil


def _addresses(host: str) -> set[str]:
    try:
        return {str(info[4][0]).split("%")[0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return set()


def own_addresses() -> set[str]:
    """Every address of this machine's interfaces."""
    out = set()
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6):
                out.add(str(address.address).split("%")[0])
    return out


def is_local_endpoint(url: str) -> bool:
    """True when every address `url`'s host resolves to is loopback, unspecified (0.0.0.0) or
    this machine's own; False for another machine or a host that does not resolve."""
    host = urlsplit(url).hostname or ""
    if not host:
        return False
    resolved = _addresses(host)
    if not resolved:
        return False
    own: set[str] | None = None
    for address in resolved:
        ip = ipaddress.ip_address(address)
        if ip.is_loopback or ip.is_unspecified:
            continue
        own = own_addresses() if own is None else own
        if address not in own:
            return False
    return True
