"""A community with a topic, its members, logged-in clients and live sockets.

`member` (aiko) and `other_member` (ben) are plain active members of
`community`; its owner is a third member, `owner`. Sockets go through the real
ASGI application with a real session cookie, as a browser tab's would.
"""

import runpy
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.urls import reverse

from chat import hub
from chat.models import Message
from communities.models import Membership
from project.asgi import application
from tests.conftest import client_for
from tests.factories import CommunityFactory, MembershipFactory, TopicFactory

LIVE_PATH = "/ws/live/"
# Long enough for a wrongly delivered frame to arrive: by the time we look, the
# HTTP request that would have broadcast it has already returned.
NOTHING_TIMEOUT = 0.5
RECEIVE_TIMEOUT = 3


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Hashing strength is not what these tests prove; MemberFactory hashes one
    # password per member.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(member_factory):
    return member_factory(nickname="owner")


@pytest.fixture
def community(owner):
    return CommunityFactory(owner=owner, name="Coffee Club")


@pytest.fixture
def topic(community):
    return TopicFactory(community=community, title="Live chat")


@pytest.fixture
def join(db):
    """Make `member` a member of `community` (active unless told otherwise)."""

    def join_(member, community, **kwargs):
        return MembershipFactory(member=member, community=community, **kwargs)

    return join_


@pytest.fixture
def membership(member, community, join):
    return join(member, community)


@pytest.fixture
def other_membership(other_member, community, join):
    return join(other_member, community)


@pytest.fixture
def third_member(chika, community, join):
    """chika, a third active member of the community."""
    join(chika, community)
    return chika


alogin = database_sync_to_async(client_for)


HTMX = {"HTTP_HX_REQUEST": "true"}


def refused(response) -> tuple[int, str]:
    """What an htmx request was refused with: the status the refusal stands for
    and the member-facing reason. htmx refusals answer 200 (project/refusals.py),
    so a browser logs no error for them; X-Refused carries the status."""
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["HX-Reswap"] == "none"
    return int(response["X-Refused"]), response.content.decode()


def send(client, topic, body, *, client_id=None, htmx=True, **fields):
    """POST the composer form of `topic` the way htmx does (or a plain form)."""
    data = {"body": body, "client_id": client_id or uuid.uuid4().hex, **fields}
    headers = HTMX if htmx else {}
    return client.post(
        reverse("chat:message-create", kwargs={"topic_id": topic.pk}), data, **headers
    )


async def asend(client, topic, body, **kwargs):
    """send() from async code: the request runs in a worker thread, and the
    view's after-commit broadcast comes back to this event loop."""
    return await sync_to_async(send)(client, topic, body, **kwargs)


@database_sync_to_async
def message_count() -> int:
    return Message.objects.count()


@database_sync_to_async
def session_key_for(member) -> str:
    client = client_for(member)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def socket_path(topics=(), lang="en") -> str:
    params = [("topic", getattr(t, "pk", t)) for t in topics]
    if lang is not None:
        params.append(("lang", lang))
    return f"{LIVE_PATH}?{urlencode(params)}"


@pytest.fixture
async def live_layer():
    """A fresh channel layer per test: the in-memory layer keeps queues and
    groups per instance, and no socket of an earlier test (another event loop)
    may be in this test's groups."""
    channel_layers.backends.clear()
    yield
    # This loop's hub (chat/hub.py) stops reading before its layer goes.
    await hub.shut_down()
    for layer in list(channel_layers.backends.values()):
        await layer.flush()
    channel_layers.backends.clear()


@pytest.fixture
async def redis_layer(settings, redis_url, monkeypatch, live_layer):
    """The pub/sub layer exactly as project/settings.py builds it for REDIS_URL."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    project_settings = runpy.run_path(str(settings.BASE_DIR / "project/settings.py"))
    layers = project_settings["CHANNEL_LAYERS"]
    assert (
        layers["default"]["BACKEND"] == "chat.layers.ResyncingRedisPubSubChannelLayer"
    )
    # Channels caches layer instances; changing the setting drops the cache
    # (setting_changed), and clearing it again here makes sure of it.
    settings.CHANNEL_LAYERS = layers
    channel_layers.backends.clear()
    layer = get_channel_layer()
    yield layer
    await layer.flush()
    channel_layers.backends.clear()


def tab_headers(session_key: str | None = None) -> list[tuple[bytes, bytes]]:
    """What a browser tab of the site sends when it opens a socket: our own
    origin, and the session cookie when there is one."""
    headers = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")]
    if session_key is not None:
        cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
        headers.append((b"cookie", cookie.encode()))
    return headers


@pytest.fixture
async def open_tab(live_layer):
    """open_tab(session_key, topic, ..., lang="en", timeout=1): a socket
    through the real application presenting that session's cookie (none for
    None), asserted accepted; closed at teardown."""
    opened = []

    async def open_(session_key, *topics, lang="en", timeout=1):
        communicator = WebsocketCommunicator(
            application, socket_path(topics, lang), headers=tab_headers(session_key)
        )
        opened.append(communicator)
        connected, _ = await communicator.connect(timeout=timeout)
        assert connected
        return communicator

    yield open_
    for communicator in opened:
        if not communicator.future.done():
            await communicator.disconnect()


@pytest.fixture
def open_socket(open_tab):
    """open_socket(member, topic, ..., lang="en"): open_tab with a new login
    session of `member` (no cookie for None)."""

    async def open_(member, *topics, lang="en"):
        key = None if member is None else await session_key_for(member)
        return await open_tab(key, *topics, lang=lang)

    return open_


async def close_code(socket) -> int | None:
    """The code the server closed the socket with (None if it sent a frame)."""
    output = await socket.receive_output(timeout=RECEIVE_TIMEOUT)
    if output["type"] != "websocket.close":
        return None
    return output["code"]


def set_status(membership: Membership, status: str) -> None:
    membership.status = status
    membership.save(update_fields=["status"])


def elements(html: str) -> list[tuple[str, dict]]:
    """Every start tag in `html` with its attributes, as a browser parses it."""
    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Collect().feed(html)
    return found


@dataclass
class CacheDown:
    """The cache failing on the calls the test names (calls counts them),
    and cache_guard's clock, which the test moves (now)."""

    calls: list
    now: list

    def fail(self, monkeypatch, *methods):
        from django.core.cache import cache

        def down(*args, **kwargs):
            self.calls.append(args)
            raise ConnectionError("cache down")

        for method in methods:
            monkeypatch.setattr(cache, method, down)

    def wait(self, seconds: float) -> None:
        self.now[0] += seconds


@pytest.fixture
def cache_down(monkeypatch):
    from project import cache_guard

    state = CacheDown(calls=[], now=[1000.0])
    monkeypatch.setattr(cache_guard, "monotonic", lambda: state.now[0])
    cache_guard.reset()
    yield state
    cache_guard.reset()


@pytest.fixture
def empty_fragment_cache():
    """No message fragment kept from another test, in the cache or in this
    process's memory (chat/fragments.py), before and after the test."""
    from django.core.cache import cache

    from chat import fragments

    cache.clear()
    fragments.local_fragments.clear()
    yield
    cache.clear()
    fragments.local_fragments.clear()
