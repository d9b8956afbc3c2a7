"""The Content-Security-Policy header (django-csp), with the live socket's origin.

The policy itself is CONTENT_SECURITY_POLICY in settings. `connect-src 'self'`
covers ws:// and wss:// of the page's own host in CSP Level 3 browsers, but
not in every browser still in use (older Safari), so each response also names
the socket's origin, taken from the request as the page's script opens it
(static/js/live.js: ws:// on http, wss:// on https, same host and port).
"""

from csp.middleware import CSPMiddleware, PolicyParts
from django.core.exceptions import DisallowedHost


def socket_origin(request) -> str | None:
    """ws(s)://host[:port] of this request, or None for a host Django refuses."""
    try:
        host = request.get_host()
    except DisallowedHost:
        return None
    return f"{'wss' if request.is_secure() else 'ws'}://{host}"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only=False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        origin = socket_origin(request)
        if origin is not None and not report_only:
            parts.update = {**(parts.update or {})}
            parts.update["connect-src"] = [
                *parts.update.get("connect-src", []),
                origin,
            ]
        return parts
