"""A member's view of a running server, from outside: HTTP with their session
cookie (standard library) and the live WebSocket (the `websockets` client).

Both carry what a browser tab would send: the session cookie, the CSRF cookie
and token on writes, an Origin of the server's own address, and `HX-Request`
where htmx would send it.
"""

import http.client
import re
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

HTTP_TIMEOUT = 15  # seconds for one request
OPEN_TIMEOUT = 10  # seconds for a socket to open

MESSAGE_ID = re.compile(r'<article id="message-(\d+)"')
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def session_key(member) -> str:
    """A real login session for `member`, saved in the shared database: every
    server accepts its cookie."""
    client = Client()
    client.force_login(member)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def close_code_within(socket: ClientConnection, seconds: float) -> int:
    """The code the server closes `socket` with, skipping frames before it;
    fails when it is still open after `seconds`."""
    return frames_until_close(socket, seconds)[1]


def frames_until_close(
    socket: ClientConnection, seconds: float
) -> tuple[list[str], int]:
    """The frames `socket` receives before the server closes it, and the close
    code; fails when it is still open after `seconds`."""
    frames = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frames.append(socket.recv(timeout=left))
        except TimeoutError:
            break
        except ConnectionClosed as closed:
            return frames, closed.rcvd.code
    pytest.fail(f"the socket was not closed within {seconds} s")


def frames_until(socket: ClientConnection, text: str, deadline: float) -> list[str]:
    """Every frame `socket` receives up to and including the first containing
    `text`; fails at `deadline` (time.monotonic())."""
    frames = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = socket.recv(timeout=left)
        except TimeoutError:
            break
        frames.append(frame)
        if text in frame:
            return frames
    pytest.fail(f"no frame containing {text!r} in time; got {frames!r}")


def frames_until_message(
    socket: ClientConnection, message_id: int, deadline: float
) -> list[str]:
    """Every frame up to and including the one carrying message `message_id`."""
    return frames_until(socket, f'<article id="message-{message_id}"', deadline)


def message_ids(html: str) -> list[int]:
    """The ids of the messages in a page or fragment, in document order."""
    return [int(found) for found in MESSAGE_ID.findall(html)]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str


@dataclass
class Tab:
    """One member on one server: their cookies and the server's base URL."""

    base_url: str
    session_key: str
    cookies: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.cookies[settings.SESSION_COOKIE_NAME] = self.session_key
        parts = urlsplit(self.base_url)
        self.host, self.port = parts.hostname, parts.port

    def request(self, method, path, *, form=None, headers=None) -> Response:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        sent = {"Host": f"{self.host}:{self.port}", "Cookie": cookie, **(headers or {})}
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=sent)
            raw = conn.getresponse()
            text = raw.read().decode("utf-8", errors="replace")
            for header in raw.headers.get_all("Set-Cookie") or []:
                for morsel in SimpleCookie(header).values():
                    self.cookies[morsel.key] = morsel.value
            return Response(raw.status, dict(raw.headers.items()), text)
        finally:
            conn.close()

    def get(self, path, *, htmx=False) -> Response:
        return self.request("GET", path, headers={"HX-Request": "true"} if htmx else {})

    def open_topic(self, topic_id: int) -> str:
        """GET the topic page (as a browser tab does before it posts) and return
        its CSRF form token; the CSRF cookie lands in this tab's cookies."""
        page = self.get(f"/topics/{topic_id}/")
        assert page.status == 200, (page.status, page.text[:2000])
        found = CSRF_FIELD.search(page.text)
        assert found, "no CSRF token in the topic page"
        return found.group(1)

    def send(self, topic_id: int, csrf_token: str, body: str) -> Response:
        """Post a message with the composer's htmx request."""
        return self.request(
            "POST",
            f"/topics/{topic_id}/send/",
            form={
                "body": body,
                "client_id": uuid.uuid4().hex,
                "csrfmiddlewaretoken": csrf_token,
            },
            headers={
                "HX-Request": "true",
                "X-CSRFToken": csrf_token,
                "Origin": self.base_url,
                "Referer": f"{self.base_url}/topics/{topic_id}/",
            },
        )

    def live_socket(
        self, topic_id: int, lang: str = "en", **options
    ) -> ClientConnection:
        """The page's live socket on the topic. `options` go to websockets'
        connect as they are (`sock=` a socket of the test's own, `max_queue=`
        how many frames the client holds before it stops reading)."""
        ws_url = self.base_url.replace("http://", "ws://", 1)
        return connect(
            f"{ws_url}/ws/live/?topic={topic_id}&lang={lang}",
            origin=self.base_url,
            additional_headers={
                "Cookie": f"{settings.SESSION_COOKIE_NAME}={self.session_key}"
            },
            open_timeout=OPEN_TIMEOUT,
            close_timeout=2,
            **options,
        )
