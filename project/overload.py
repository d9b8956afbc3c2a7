"""Answering "busy, come back in a moment" instead of failing slowly.

When a server restarts, or its Redis connection comes back, every open page
catches up at once (docs/live-protocol.md). Let through, those requests take
every pooled database connection and wait on one another until the pool
times out: a 500 after 20 s, and a page that never got what it missed.

Views marked @sheds_load get at most SHED_CONCURRENCY requests in progress
per process; one more waits for a place (for SHED_WAIT seconds, in the
event loop: no thread, no connection) and is then answered 503 with
Retry-After, which the page honours before it asks again. The marked views'
requests are admitted before any other middleware runs, so a waiting one
holds nothing.

Any request that still finds the pool exhausted gets the same 503 rather
than a 500 (server_error, the site's handler500).
"""

import asyncio
import sys
import threading
import time
import weakref

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpResponse
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.views import defaults
from psycopg_pool import PoolTimeout


def sheds_load(view):
    """Mark a view that many pages call at the same moment (catch-up)."""
    view.sheds_load = True
    return view


def busy() -> HttpResponse:
    response = HttpResponse(
        _("The server is busy. Trying again in a moment."),
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(settings.SHED_RETRY_AFTER)
    return response


def _sheds(request) -> bool:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return getattr(match.func, "sheds_load", False)


class LoadSheddingMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
            # One gate per event loop (a process has one under Daphne).
            self.gates = weakref.WeakKeyDictionary()
        else:
            self.gate = threading.BoundedSemaphore(settings.SHED_CONCURRENCY)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        if not _sheds(request):
            return self.get_response(request)
        request.arrived_at = time.monotonic()  # chat/catchup.py
        if not self.gate.acquire(timeout=settings.SHED_WAIT):
            return busy()
        try:
            return self.get_response(request)
        finally:
            self.gate.release()

    async def __acall__(self, request):
        if not _sheds(request):
            return await self.get_response(request)
        request.arrived_at = time.monotonic()  # chat/catchup.py
        loop = asyncio.get_running_loop()
        gate = self.gates.get(loop)
        if gate is None:
            gate = self.gates[loop] = asyncio.BoundedSemaphore(
                settings.SHED_CONCURRENCY
            )
        try:
            async with asyncio.timeout(settings.SHED_WAIT):
                await gate.acquire()
        except TimeoutError:
            return busy()
        request.admitted_at = time.perf_counter()  # bench/timing.py
        try:
            return await self.get_response(request)
        finally:
            gate.release()


def _exhausted(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, PoolTimeout):
            return True
        error = error.__cause__ or error.__context__
    return False


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    """handler500: a pool with no connection to give is "busy" (503 and
    Retry-After), any other failure Django's 500 page."""
    if _exhausted(sys.exc_info()[1]):
        return busy()
    return defaults.server_error(request, template_name)
