"""Who's here across two Daphne processes and one Redis (presence/here.py).

Members connected to either process are listed on both, live and on the
page; a member hiding their presence is never listed; a socket dropped
without a close frame leaves the list within a minute, both ways it happens:
a peer gone silent on a live process (Daphne's keepalive closes it) and a
process killed with its sockets (their entries lapse, and the other process
sweeps them). Real servers, real HTTP and sockets (tests/integration/web.py).
"""

import base64
import os
import re
import signal
import socket
import time

import pytest
from django.conf import settings
from websockets.sync.client import connect

from communities.models import Topic
from tests.factories import coffee_club
from tests.integration.web import OPEN_TIMEOUT, Tab, session_key

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

LIST = '<template id="live-here" '
SEEN_WITHIN = 5.0  # seconds for an arrival to reach the other process's sockets
GONE_WITHIN = 60.0  # seconds: "within a minute"
NICKNAME = re.compile(r'<li data-member="\d+"><a href="[^"]+">([^<]+)</a></li>')


def listed(html: str) -> list[str]:
    return NICKNAME.findall(html)


def lists_until(ws, wanted: list[str], deadline: float) -> list[list[str]]:
    """Every list the socket receives until one shows exactly `wanted`;
    fails at `deadline` (time.monotonic())."""
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = ws.recv(timeout=left)
        except TimeoutError:
            break
        if frame.startswith(LIST):
            seen.append(listed(frame))
            if seen[-1] == wanted:
                return seen
    pytest.fail(f"no list showing {wanted} in time; got {seen}")


def here_socket(tab: Tab, topic_id: int):
    """The topic page's socket: its stream, and its Who's here (?here=1)."""
    ws_url = tab.base_url.replace("http://", "ws://", 1)
    return connect(
        f"{ws_url}/ws/live/?topic={topic_id}&here=1&lang=en",
        origin=tab.base_url,
        additional_headers={
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={tab.session_key}"
        },
        open_timeout=OPEN_TIMEOUT,
        close_timeout=2,
    )


def silent_socket(base_url: str, topic_id: int, key: str) -> socket.socket:
    """A tab whose network dropped right after its socket opened: the
    handshake done by hand, then nothing read or written again, no close
    frame ever (its pings go unanswered)."""
    host, port = base_url.removeprefix("http://").split(":")
    raw = socket.create_connection((host, int(port)), timeout=10)
    request = (
        f"GET /ws/live/?topic={topic_id}&here=1&lang=en HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Origin: {base_url}\r\n"
        f"Cookie: {settings.SESSION_COOKIE_NAME}={key}\r\n\r\n"
    )
    raw.sendall(request.encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += raw.recv(1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return raw


def test_members_on_either_process_are_listed_on_both_and_dropped_ones_leave(
    aiko, ben, chika, daichi, start_daphnes, sockets
):
    community = coffee_club(aiko, ben, chika, daichi)
    topic = Topic.objects.create(
        community=community, title="Live chat", created_by=aiko
    )
    chika.shows_presence = False
    chika.save(update_fields=["shows_presence"])
    first, second = start_daphnes(2)
    aiko_on_first = Tab(first.url, session_key(aiko))
    ben_on_second = Tab(second.url, session_key(ben))

    aiko_ws = sockets.enter_context(here_socket(aiko_on_first, topic.pk))
    ben_ws = sockets.enter_context(here_socket(ben_on_second, topic.pk))
    # chika, hiding her presence, opens sockets on both.
    chika_tabs = [Tab(server.url, session_key(chika)) for server in (first, second)]
    for tab in chika_tabs:
        sockets.enter_context(here_socket(tab, topic.pk))

    # Listed on both processes: live...
    deadline = time.monotonic() + SEEN_WITHIN
    for ws in (aiko_ws, ben_ws):
        seen = lists_until(ws, ["aiko", "ben"], deadline)
        assert not [names for names in seen if "chika" in names]
    # ...and on each process's page and list view.
    for tab in (aiko_on_first, ben_on_second, *chika_tabs):
        page = tab.get(f"/topics/{topic.pk}/")
        assert page.status == 200, page.status
        assert listed(page.text) == ["aiko", "ben"]
        here_list = tab.get(f"/topics/{topic.pk}/here/")
        assert listed(here_list.text) == ["aiko", "ben"]

    # daichi's tab on the first process loses its network without a word.
    silent = silent_socket(first.url, topic.pk, session_key(daichi))
    try:
        lists_until(ben_ws, ["aiko", "ben", "daichi"], time.monotonic() + SEEN_WITHIN)
        # The second process dies with ben's socket: no close frame either.
        second.popen.send_signal(signal.SIGKILL)
        second.popen.wait(timeout=10)
        dropped = time.monotonic()

        # Both are off aiko's list within a minute: daichi when Daphne's
        # keepalive gives up on his socket, ben when his entry lapses and
        # the first process sweeps it.
        seen = lists_until(aiko_ws, ["aiko"], dropped + GONE_WITHIN)
        took = time.monotonic() - dropped
        print(f"dropped sockets off the list after {took:.1f} s; lists: {seen}")
        assert not [names for names in seen if "chika" in names]
        assert listed(aiko_on_first.get(f"/topics/{topic.pk}/here/").text) == ["aiko"]
    finally:
        silent.close()
