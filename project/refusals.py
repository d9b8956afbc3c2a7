"""How a refused request is answered, for every app.

A browser logs every 4xx/5xx answer to a fetch or XHR as a console error
("Failed to load resource"), and htmx logs its own `htmx:responseError` too; a
refusal in normal use (a message too long, sending too fast, a form from a
stale tab) is not an error of the page. So an htmx request that is refused
gets 200, its reason as plain text, and the status it stands for in the
`X-Refused` header; `HX-Reswap: none` keeps htmx from putting the text
anywhere, and the page's script shows it where the member acted
(static/js/chat.js). Every other client (a plain form, a script, a test)
gets the real status.

A refusal for going too fast (a spent rate budget, slow mode) says when to
try again in `Retry-After`, whole seconds, for both kinds of client.

Full-page forms with errors are not refusals in this sense: they answer 200
with the form and its errors, as Django's own views do.
"""

import math

from django.http import HttpResponse

REFUSED_HEADER = "X-Refused"


def is_htmx(request) -> bool:
    # Read from the header rather than request.htmx: a CSRF failure is answered
    # from a middleware's hook, which may run before django-htmx has looked.
    return request.headers.get("HX-Request") == "true"


def refusal(
    request, reason: str, status: int, *, retry_after: int | None = None
) -> HttpResponse:
    """`reason` (already translated, for the member) refused with `status`;
    `retry_after`: seconds until it may be tried again."""
    if not is_htmx(request):
        response = HttpResponse(
            reason, status=status, content_type="text/plain; charset=utf-8"
        )
    else:
        response = HttpResponse(reason, content_type="text/plain; charset=utf-8")
        response[REFUSED_HEADER] = str(status)
        response["HX-Reswap"] = "none"
    if retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def refused(request, exc: Exception) -> HttpResponse:
    """The refusal an app's exception stands for: its words, its `status`
    (400 when it has none) and its `retry_after` when it has one."""
    return refusal(
        request,
        str(exc),
        getattr(exc, "status", 400),
        retry_after=getattr(exc, "retry_after", None),
    )
