"""What the Who's-here and typing tests share: a clean state per test, and
readers of the frames a socket receives (presence/here.py)."""

import re
from urllib.parse import urlencode

import pytest
import redis
from channels.testing import WebsocketCommunicator
from django.conf import settings

from presence import here
from project import loop_redis
from project.asgi import application
from tests.chat.conftest import LIVE_PATH, session_key_for, tab_headers

LIST = '<template id="live-here" '
CHANGED = '<template id="live-here-changed" '
TYPING = '<template id="live-typing" '
WAIT = 3  # seconds, for a frame that should come

MEMBER_LINK = re.compile(r'<li data-member="(\d+)"><a href="[^"]+">([^<]+)</a></li>')


def clear_state() -> None:
    here.memory.clear()
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            keys = list(client.scan_iter(f"{loop_redis.key_prefix()}:here:*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture
async def open_here(live_layer):
    """open_here(member, topic, ...): a topic page's socket (`?here=1`, with
    a new login session of `member`), asserted accepted; closed at teardown."""
    opened = []

    async def open_(member, *topics, lang="en"):
        key = await session_key_for(member)
        query = [("topic", t.pk) for t in topics] + [("here", 1), ("lang", lang)]
        socket = WebsocketCommunicator(
            application, f"{LIVE_PATH}?{urlencode(query)}", headers=tab_headers(key)
        )
        opened.append(socket)
        connected, _ = await socket.connect(timeout=2)
        assert connected
        return socket

    yield open_
    for socket in opened:
        if not socket.future.done():
            await socket.disconnect()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every member the tests make hashes a password; its strength is not
    # what they prove.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


async def closed_with(socket, timeout=WAIT) -> int:
    """The code the server closes the socket with, skipping frames before."""
    while True:
        output = await socket.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output["code"]


@pytest.fixture
async def here_state():
    """No entry of an earlier test (ids repeat across test databases); this
    loop's presence tasks stopped at the end."""
    clear_state()
    yield
    await here.shut_down()
    clear_state()


def store_entry(topic_id: int, member_id: int, socket_name: str) -> None:
    """An entry written as another process's socket would be."""
    item = here.entry(member_id, socket_name)
    if not settings.REDIS_URL:
        here.memory.add(topic_id, item)
        return
    loop_redis.sync_client().eval(
        here._ADD,
        2,
        here.set_key(topic_id),
        here.version_key(topic_id),
        item,
        here.ENTRY_TTL * 1000,
    )


def listed(html: str) -> list[str]:
    """The nicknames a list fragment or page shows, in order."""
    return [nickname for _pk, nickname in MEMBER_LINK.findall(html)]


def version_of(html: str) -> int:
    return int(html.split('data-version="', 1)[1].split('"', 1)[0])


async def frames(socket, timeout=0.5) -> list[str]:
    """Every frame the socket received until it stayed quiet for `timeout`."""
    found = []
    while not await socket.receive_nothing(timeout=timeout):
        output = await socket.receive_output()
        assert output["type"] == "websocket.send", output
        found.append(output["text"])
    return found


async def next_list(socket, timeout=WAIT) -> str:
    """The next list frame the socket receives (other frames are skipped)."""
    while True:
        frame = await socket.receive_from(timeout=timeout)
        if frame.startswith(LIST):
            return frame


async def list_showing(socket, nicknames: list[str], timeout=WAIT) -> str:
    """Skip list frames until one shows exactly `nicknames`."""
    while True:
        frame = await next_list(socket, timeout)
        if listed(frame) == nicknames:
            return frame
