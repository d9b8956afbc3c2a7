"""A socket that stops reading, the flood that fills it, and the server's own
figures: what the eviction tests of every server share."""

import re
import socket

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.web import Tab

FRAME_BYTES = 64_000
FLOOD_MARK = re.compile(r'<div class="flood" data-n="(\d+)">')


def flood_frame(n: int, size: int = FRAME_BYTES) -> str:
    head = f'<div class="flood" data-n="{n}">'
    tail = "</div>"
    return head + "x" * (size - len(head) - len(tail)) + tail


def flood_numbers(frames: list[str]) -> list[int]:
    return [int(m.group(1)) for frame in frames if (m := FLOOD_MARK.match(frame))]


def small_receive_buffer(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A TCP connection to the server whose kernel receive buffer is 4 KB, so
    that a client that stops reading fills it at once."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(10)
    raw.connect((host, port))
    return raw


def stalled_socket(tab: Tab, topic_id: int):
    """The page's live socket (Tab.live_socket) whose reader stops: a 4 KB
    kernel receive buffer, and a client that holds one frame and reads no
    more from the network until the test takes it (websockets' max_queue)."""
    raw = small_receive_buffer(tab.port, tab.host)
    return tab.live_socket(topic_id, sock=raw, max_queue=1)


def scrape(server, token: str) -> dict[str, float]:
    """The server's /metrics, read with `token`: each figure's value."""
    page = Tab(server.url, "").request(
        "GET", "/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    assert page.status == 200, (page.status, page.text[:2000])
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(page.text)
        for sample in family.samples
    }
