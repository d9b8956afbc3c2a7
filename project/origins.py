"""The live socket accepts a handshake only from the site's own pages.

A socket carries the member's session cookie whichever page opens it, so a
page on another site could otherwise read the member's live streams
(cross-site WebSocket hijacking). Browsers send the opening page's origin,
and it must be exactly one of the site's: the rule Django's CSRF middleware
applies to a POST's Origin header, so the socket and the forms agree.

- `<scheme>://<host>` of the request itself, where the host (with its port,
  as the Host header gives it) is one ALLOWED_HOSTS accepts, and the scheme is
  https when the socket is wss or SECURE_PROXY_SSL_HEADER says the proxy took
  it over TLS, else http;
- or an entry of CSRF_TRUSTED_ORIGINS (exact, or `https://*.example.com` for
  its subdomains).

Channels' AllowedHostsOriginValidator, used before, compared only the
origin's host name with ALLOWED_HOSTS: http://127.0.0.1:9999 passed for a site
on https://127.0.0.1, any port and either scheme.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


class SiteOriginValidator:
    """ASGI middleware: websocket handshakes from a foreign origin are denied."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_is_the_sites(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)


def origin_is_the_sites(scope) -> bool:
    headers = _headers(scope)
    origins = headers.get("origin", [])
    # No origin is not a browser page; two are not a browser at all.
    if len(origins) != 1:
        return False
    origin = origins[0]
    host = _host(headers)
    if host is None:
        return False
    if origin == f"{_scheme(scope, headers)}://{host}":
        return True
    if origin in {o for o in settings.CSRF_TRUSTED_ORIGINS if "*" not in o}:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        is_same_domain(parsed.netloc, trusted.netloc.lstrip("*"))
        for trusted in (urlsplit(o) for o in settings.CSRF_TRUSTED_ORIGINS if "*" in o)
        if trusted.scheme == parsed.scheme
    )


def _headers(scope) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in scope.get("headers", []):
        headers.setdefault(name.decode("latin-1").lower(), []).append(
            value.decode("latin-1")
        )
    return headers


def _host(headers) -> str | None:
    """The request's host as HttpRequest.get_host() finds it, or None if
    ALLOWED_HOSTS refuses it."""
    if settings.USE_X_FORWARDED_HOST and "x-forwarded-host" in headers:
        hosts = headers["x-forwarded-host"]
    else:
        hosts = headers.get("host", [])
    if len(hosts) != 1:
        return None
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(hosts[0])
    if domain and validate_host(domain, allowed_hosts):
        return hosts[0]
    return None


def _scheme(scope, headers) -> str:
    """http or https, as HttpRequest.scheme would say for this request."""
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        name = meta_name.removeprefix("HTTP_").replace("_", "-").lower()
        values = headers.get(name)
        if values:
            first = values[0].split(",", 1)[0].strip()
            return "https" if first == secure_value else "http"
    # Daphne leaves "scheme" out of a websocket scope; ASGI's default is ws.
    return "https" if scope.get("scheme", "ws") in ("wss", "https") else "http"
