"""Requests run on threads kept from one request to the next
(project/request_threads.py): through the site's own ASGI application, one
request after another uses one thread, and requests at the same time each
have a thread of their own."""

import asyncio
import threading

import pytest
from channels.testing import HttpCommunicator
from django.contrib.auth.decorators import login_not_required
from django.core.asgi import get_asgi_application
from django.http import HttpResponse
from django.urls import path

from project.asgi import application
from project.request_threads import ExecutorPool, PooledRequestThreads

pytestmark = pytest.mark.django_db(transaction=True)

HOST = [(b"host", b"testserver")]

# The thread objects themselves: an ended thread's id may be given again.
threads_seen: list[threading.Thread] = []
entered = threading.Barrier(2, timeout=5)


@login_not_required
def one(request):
    threads_seen.append(threading.current_thread())
    return HttpResponse("ok")


@login_not_required
def two_at_once(request):
    threads_seen.append(threading.current_thread())
    entered.wait()  # both requests are in their views at the same time
    return HttpResponse("ok")


urlpatterns = [path("one/", one), path("two-at-once/", two_at_once)]


def distinct(threads) -> int:
    return len({id(thread) for thread in threads})


async def test_requests_one_after_another_reuse_the_same_request_thread(settings):
    settings.ROOT_URLCONF = __name__
    threads_seen.clear()
    for _ in range(5):
        response = await HttpCommunicator(
            application, "GET", "/one/", headers=HOST
        ).get_response()
        assert response["status"] == 200
    assert distinct(threads_seen) == 1


async def test_requests_at_the_same_time_run_on_threads_of_their_own(settings):
    settings.ROOT_URLCONF = __name__
    app = PooledRequestThreads(get_asgi_application(), pool=ExecutorPool())
    threads_seen.clear()
    answers = await asyncio.gather(
        *(
            HttpCommunicator(app, "GET", "/two-at-once/", headers=HOST).get_response(
                timeout=10
            )
            for _ in range(2)
        )
    )
    assert [answer["status"] for answer in answers] == [200, 200]
    assert distinct(threads_seen) == 2


def test_an_executor_given_back_is_taken_again_and_the_idle_are_bounded():
    pool = ExecutorPool(max_idle=1)
    first, second = pool.take(), pool.take()
    assert first is not second
    pool.give_back(first)
    pool.give_back(second)  # over max_idle: shut down
    assert pool.take() is first
    assert pool.take() is not second
    assert pool.created == 3
