"""Where the gallery may send a browser, and which plain-HTTP logins it accepts (no Flask).

One check for every ``?next=`` the gallery follows or links to (the login, a capture's delete,
the capture page's Back link): a path on this site, or the fallback.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

_MAX_TARGET = 2000


def safe_next(target: str | None, fallback: str) -> str:
    """``target`` if it is a path on this site, else ``fallback``.

    Browsers drop tabs and newlines from URLs and read ``\\`` as ``/``, so ``/<TAB>/evil`` and
    ``/\\evil`` become ``//evil``, another host: only printable ASCII without spaces or
    backslashes passes, starting with one ``/``.
    """
    if not target or len(target) > _MAX_TARGET:
        return fallback
    if any(not "!" <= char <= "~" for char in target) or "\\" in target:
        return fallback
    if not target.startswith("/") or target.startswith("//"):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def _host_name(host: str) -> str:
    """``[::1]:8080`` → ``::1``, ``localhost:8080`` → ``localhost``."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback(name: str) -> bool:
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback_request(remote_addr: str | None, host: str | None) -> bool:
    """Whether a browser on this machine asked for this machine (nothing crosses a network).

    Both the peer address and the Host the browser used must be loopback: behind a proxy that
    is not declared (``CAMCLOUD_GALLERY_PROXY_HOPS``) every peer is 127.0.0.1, but the Host
    still names the public site, so such a setup does not pass as local.
    """
    return _is_loopback(remote_addr or "") and _is_loopback(_host_name(host or ""))
