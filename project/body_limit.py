"""A cap on the size of every HTTP request body, applied before Django reads it.

Under ASGI, Django reads the whole body before any view or upload handler runs
(django/core/handlers/asgi.py, read_body), so a limit checked in a form comes
after the last byte arrived. This middleware sits in front of Django in
project/asgi.py: a declared Content-Length over REQUEST_MAX_BYTES is answered
413 without reading the body at all, and a body without one (chunked) is
counted as it arrives and cut off, with the same answer, once it passes the cap.

Daphne (Twisted) itself buffers each request body, in a temporary file past
100 KB, before the application sees it; the reverse proxy in front of it must
cap bodies too (nginx: client_max_body_size). See README, "Production".
"""

from django.conf import settings
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.template.loader import render_to_string
from django.utils import translation


class RequestBodyLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.REQUEST_MAX_BYTES
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _too_large(scope, send)

        received = 0
        cut_off = False
        answered = False

        async def counted_receive():
            nonlocal received, cut_off
            if cut_off:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # To Django this is a client that went away: it stops
                    # reading (RequestAborted) and answers nothing.
                    cut_off = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal answered
            if cut_off:
                return
            answered = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if cut_off and not answered:
            await _too_large(scope, send)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


async def _too_large(scope, send) -> None:
    body = _page(scope).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _page(scope) -> str:
    """The refusal in the member's language (cookie, then Accept-Language): no
    view runs here, so LocaleMiddleware has not chosen one."""
    request = HttpRequest()
    request.COOKIES = parse_cookie(_header(scope, b"cookie") or "")
    request.META["HTTP_ACCEPT_LANGUAGE"] = _header(scope, b"accept-language") or ""
    language = translation.get_language_from_request(request)
    limit = min(settings.REQUEST_MAX_BYTES, settings.AVATAR_MAX_BYTES)
    with translation.override(language):
        return render_to_string(
            "413.html",
            {"language": language, "max_mb": max(1, limit // (1024 * 1024))},
        )
