"""The live socket's handshake accepts exactly the site's own origins.

Through the real ASGI application (project.asgi), with a logged-in member's
session cookie: a page on another site that opens a socket sends the member's
cookie too, so the origin is all that stands between it and their streams.
The rule is Django's CSRF rule for a POST's Origin header (project/origins.py).
"""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from project.asgi import application

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("live_layer"),
]

LIVE_PATH = "/ws/live/"


@database_sync_to_async
def session_of(member) -> str:
    client = Client()
    client.force_login(member)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
async def handshake(member):
    """handshake(origin, host=..., *extra headers, scheme=None) -> accepted?"""
    session_key = await session_of(member)
    opened = []

    async def handshake_(origin, host="127.0.0.1", *extra, scheme=None):
        headers = [(b"host", host.encode())] if host is not None else []
        if origin is not None:
            origins = origin if isinstance(origin, list) else [origin]
            headers += [(b"origin", o.encode()) for o in origins]
        cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()
        headers += [(b"cookie", cookie), *extra]
        communicator = WebsocketCommunicator(application, LIVE_PATH, headers=headers)
        if scheme is not None:
            # What a server that terminates TLS itself puts in the scope
            # (Daphne leaves the key out); read when the application starts.
            communicator.scope["scheme"] = scheme
        opened.append(communicator)
        connected, _ = await communicator.connect()
        return connected

    yield handshake_
    for communicator in opened:
        if not communicator.future.done():
            await communicator.disconnect()


async def test_the_sites_own_origin_is_accepted(handshake):
    assert await handshake("http://127.0.0.1") is True


async def test_the_sites_own_origin_with_its_port_is_accepted(handshake):
    assert await handshake("http://127.0.0.1:8000", "127.0.0.1:8000") is True


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:9999", "127.0.0.1"),
        ("http://127.0.0.1", "127.0.0.1:8000"),
        ("http://127.0.0.1:8001", "127.0.0.1:8000"),
        ("https://127.0.0.1", "127.0.0.1"),
        ("ws://127.0.0.1", "127.0.0.1"),
        ("http://localhost", "127.0.0.1"),
        ("http://127.0.0.1.evil.example", "127.0.0.1"),
        ("http://127.0.0.1@evil.example", "127.0.0.1"),
        ("http://evil.example", "evil.example"),
        ("http://EVIL.example", "127.0.0.1"),
        ("null", "127.0.0.1"),
        ("", "127.0.0.1"),
        (None, "127.0.0.1"),
        (["http://127.0.0.1", "http://evil.example"], "127.0.0.1"),
        ("http://127.0.0.1", None),
    ],
    ids=[
        "wrong-port",
        "port-missing",
        "other-port",
        "wrong-scheme",
        "ws-scheme",
        "another-allowed-host",
        "lookalike-host",
        "userinfo-trick",
        "host-not-allowed",
        "foreign",
        "null",
        "empty",
        "missing",
        "two-origins",
        "no-host",
    ],
)
async def test_any_other_origin_is_refused_at_the_handshake(handshake, origin, host):
    assert await handshake(origin, host) is False


async def test_a_csrf_trusted_origin_is_accepted(handshake, settings):
    # The proxy serves https://enishi.example and passes Host: 127.0.0.1:8000.
    settings.CSRF_TRUSTED_ORIGINS = ["https://enishi.example"]

    assert await handshake("https://enishi.example", "127.0.0.1:8000") is True
    assert await handshake("http://enishi.example", "127.0.0.1:8000") is False
    assert await handshake("https://enishi.example:8443", "127.0.0.1:8000") is False


async def test_a_wildcard_csrf_trusted_origin_accepts_its_subdomains_only(
    handshake, settings
):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.enishi.example"]

    assert await handshake("https://chat.enishi.example", "127.0.0.1") is True
    assert await handshake("http://chat.enishi.example", "127.0.0.1") is False
    assert await handshake("https://enishi.example.evil", "127.0.0.1") is False


FORWARDED_HTTPS = (b"x-forwarded-proto", b"https")


async def test_behind_the_tls_proxy_the_https_origin_is_accepted(handshake, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    assert await handshake("https://127.0.0.1", "127.0.0.1", FORWARDED_HTTPS) is True
    # The request is https now, so a plain-http page is another origin.
    assert await handshake("http://127.0.0.1", "127.0.0.1", FORWARDED_HTTPS) is False


async def test_x_forwarded_proto_counts_only_when_the_proxy_is_trusted(handshake):
    assert settings.SECURE_PROXY_SSL_HEADER is None

    assert await handshake("https://127.0.0.1", "127.0.0.1", FORWARDED_HTTPS) is False


async def test_a_socket_over_tls_accepts_the_https_origin_only(handshake):
    assert await handshake("https://127.0.0.1", scheme="wss") is True
    assert await handshake("http://127.0.0.1", scheme="wss") is False
