"""Load shedding (project/overload.py): the views many pages call at once
(catch-up) are admitted SHED_CONCURRENCY at a time per process; one more waits
up to SHED_WAIT seconds without holding anything, then is answered 503 with
Retry-After. Every other view is never held. A pool that has no connection to
give answers the same 503 instead of a 500."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError
from django.http import HttpResponse
from django.test import AsyncClient, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from psycopg_pool import PoolTimeout

from chat.views import message_list
from communities.models import Topic
from project.overload import LoadSheddingMiddleware, server_error
from tests.factories import coffee_club

CATCH_UP = "/topics/1/messages/?after=0"
PAGE = "/topics/1/"


@pytest.fixture
def shed(settings):
    settings.SHED_CONCURRENCY = 1
    settings.SHED_WAIT = 0.05
    settings.SHED_RETRY_AFTER = 3
    return settings


def assert_busy(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "3"


async def test_past_its_places_a_catch_up_is_answered_503_with_retry_after(shed):
    entered, release = asyncio.Event(), asyncio.Event()

    async def view(request):
        entered.set()
        await release.wait()
        return HttpResponse("caught up")

    middleware = LoadSheddingMiddleware(view)
    factory = RequestFactory()
    first = asyncio.create_task(middleware(factory.get(CATCH_UP)))
    await entered.wait()

    assert_busy(await middleware(factory.get(CATCH_UP)))
    # Other views are never held.
    entered.clear()
    other = asyncio.create_task(middleware(factory.get(PAGE)))
    await entered.wait()
    release.set()
    assert (await first).status_code == 200
    assert (await other).status_code == 200
    # The place is given back.
    assert (await middleware(factory.get(CATCH_UP))).status_code == 200


async def test_a_waiting_catch_up_gets_the_place_given_back_within_its_wait(shed):
    shed.SHED_WAIT = 5
    entered, release = asyncio.Event(), asyncio.Event()
    calls = []

    async def view(request):
        calls.append(request.path)
        entered.set()
        await release.wait()
        return HttpResponse("caught up")

    middleware = LoadSheddingMiddleware(view)
    factory = RequestFactory()
    first = asyncio.create_task(middleware(factory.get(CATCH_UP)))
    await entered.wait()
    second = asyncio.create_task(middleware(factory.get(CATCH_UP)))
    await asyncio.sleep(0.05)
    assert len(calls) == 1  # still waiting for the place, in the event loop

    release.set()
    assert (await first).status_code == 200
    assert (await second).status_code == 200
    assert len(calls) == 2


def test_the_same_gate_holds_under_wsgi(shed):
    entered, release = threading.Event(), threading.Event()

    def view(request):
        entered.set()
        release.wait(5)
        return HttpResponse("caught up")

    middleware = LoadSheddingMiddleware(view)
    factory = RequestFactory()
    results = []
    first = threading.Thread(
        target=lambda: results.append(middleware(factory.get(CATCH_UP)))
    )
    first.start()
    assert entered.wait(5)

    assert_busy(middleware(factory.get(CATCH_UP)))
    release.set()
    first.join(5)
    assert results[0].status_code == 200
    assert middleware(factory.get(PAGE)).status_code == 200


def _views(resolver=None):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from _views(entry)
        elif isinstance(entry, URLPattern):
            yield entry.callback


def test_catch_up_is_the_one_view_that_sheds_load():
    shedding = {view for view in _views() if getattr(view, "sheds_load", False)}

    assert shedding == {message_list}


@pytest.mark.django_db(transaction=True)
async def test_through_the_whole_stack_a_full_process_answers_catch_up_503(shed, aiko):
    shed.SHED_CONCURRENCY = 0  # every place taken
    community = await sync_to_async(coffee_club)(aiko)
    topic = await Topic.objects.acreate(community=community, title="t", created_by=aiko)
    client = AsyncClient()
    await client.aforce_login(aiko)
    url = reverse("chat:message-list", kwargs={"topic_id": topic.pk})

    assert_busy(await client.get(f"{url}?after=0", headers={"HX-Request": "true"}))
    assert (await client.get(topic.get_absolute_url())).status_code == 200


def test_an_exhausted_pool_is_busy_not_a_server_error(shed):
    request = RequestFactory().get(CATCH_UP)
    try:
        try:
            raise PoolTimeout("couldn't get a connection after 5.00 sec")
        except PoolTimeout as exc:
            raise OperationalError(str(exc)) from exc
    except OperationalError:
        response = server_error(request)
    assert_busy(response)

    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(request).status_code == 500
