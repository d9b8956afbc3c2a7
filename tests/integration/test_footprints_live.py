"""The footprint notice across processes: ben opens aiko's page on Daphne
process 1; both of aiko's tabs, whose sockets are on process 2, hear "ben
left a footprint" (and their badge count) within a second, through Redis
pub/sub; no other member's socket, on either process, hears anything of it:
not chika's, not daichi's, not ben's own."""

import time

import pytest
from django.conf import settings
from websockets.sync.client import connect

from presence.models import Footprint
from tests.integration.web import OPEN_TIMEOUT, Tab, frames_until, session_key

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

DELIVERY_LIMIT = 1.0  # seconds from ben's request to the notice on aiko's socket
QUIET = 1.5  # seconds another member's socket is watched for anything at all
NOTICE = "ben left a footprint"


def live_socket(server, member):
    """A tab's live socket with no stream: only the member's own group."""
    ws_url = server.url.replace("http://", "ws://", 1)
    return connect(
        f"{ws_url}/ws/live/",
        origin=server.url,
        additional_headers={
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key(member)}"
        },
        open_timeout=OPEN_TIMEOUT,
        close_timeout=2,
    )


def frames_within(socket, seconds: float) -> list[str]:
    frames = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frames.append(socket.recv(timeout=left))
        except TimeoutError:
            break
    return frames


def test_bens_visit_on_one_process_reaches_aikos_tabs_on_the_other_only(
    aiko, ben, chika, daichi, start_daphnes, sockets
):
    first, second = start_daphnes(2)
    aiko_tabs = [sockets.enter_context(live_socket(second, aiko)) for _ in range(2)]
    others = {
        "chika on 2": sockets.enter_context(live_socket(second, chika)),
        "daichi on 1": sockets.enter_context(live_socket(first, daichi)),
        "ben on 1": sockets.enter_context(live_socket(first, ben)),
    }
    # The sockets are in their groups once the server has accepted them;
    # a ping's answer proves it (the consumer answers after connect).
    for socket in [*aiko_tabs, *others.values()]:
        socket.send('{"type": "ping"}')
        assert "live-pong" in socket.recv(timeout=5)

    started = time.monotonic()
    page = Tab(first.url, session_key(ben)).get(f"/members/{aiko.nickname}/")
    assert page.status == 200, (page.status, page.text[:2000])
    assert "Delete my footprint" in page.text

    for tab in aiko_tabs:
        frames = frames_until(tab, NOTICE, started + DELIVERY_LIMIT)
        notice = frames[-1]
        assert 'id="live-notice"' in notice
        assert 'hx-swap-oob="true">1</span>' in notice
    print(
        f"ben's GET on process 1 -> notice on process 2: "
        f"{(time.monotonic() - started) * 1000:.0f} ms"
    )
    assert Footprint.objects.get(owner=aiko).visitor_id == ben.pk

    for who, socket in others.items():
        heard = frames_within(socket, QUIET)
        assert not [frame for frame in heard if "footprint" in frame], (who, heard)
        assert not [frame for frame in heard if "ben" in frame], (who, heard)
