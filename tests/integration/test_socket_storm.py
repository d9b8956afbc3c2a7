"""1,000 live sockets opening at once on one Daphne process are all accepted.

This is what a process meets when its neighbour dies and every tab that was
on it reconnects here (issue 7): before, the consumer resolved the session
and authorized the streams one socket at a time on asgiref's single
thread-sensitive thread, and Daphne dropped the handshakes still waiting
after its connect timeout. Here 50 members open 20 sockets each (the most a
member may hold, chat/socket_limit.py), all at once, on one Daphne started
with the Procfile's own arguments over PostgreSQL and our own redis-server;
every socket must open, and then answer a ping (a socket refused after
accepting would have been closed first). How long it took is printed, not
asserted.
"""

import asyncio
import resource
import shlex
import time

import pytest
from websockets.asyncio.client import connect

from communities.models import Membership
from tests.conftest import MemberFactory
from tests.factories import CommunityFactory, TopicFactory
from tests.integration.web import session_key
from tests.servers import ROOT, daphne, server_env

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]

MEMBERS = 50
SOCKETS_PER_MEMBER = 20
# Daphne's own default, for a Procfile that does not set it.
DAPHNE_CONNECT_TIMEOUT = 5
PONG = '<template id="live-pong"></template>'


def procfile_daphne_args() -> list[str]:
    """The arguments the Procfile's web process gives Daphne, without the
    address, the port and the application (tests/servers.py sets those)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            words = shlex.split(line.removeprefix("web:"))
            break
    else:
        pytest.fail("no web: line in the Procfile")
    assert words[0] == "daphne", words
    args, rest = [], iter(words[1:])
    for word in rest:
        if word in ("-b", "--bind", "-p", "--port"):
            next(rest)
        elif word != "project.asgi:application":
            args.append(word)
    return args


def connect_timeout(args: list[str]) -> int:
    for index, word in enumerate(args):
        if word == "--websocket_connect_timeout":
            return int(args[index + 1])
        if word.startswith("--websocket_connect_timeout="):
            return int(word.split("=", 1)[1])
    return DAPHNE_CONNECT_TIMEOUT


@pytest.fixture
def open_files():
    """Room for 1,000 client sockets here and as many in the server, which
    inherits this limit when it starts."""
    needed = 4 * MEMBERS * SOCKETS_PER_MEMBER
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.fail(f"the open-files limit is {hard}; this test needs {needed}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def one_daphne(open_files, transactional_db, redis_server, tmp_path):
    server = daphne(
        "daphne",
        log_dir=tmp_path,
        env=server_env(REDIS_URL=redis_server.url),
        args=procfile_daphne_args(),
    )
    try:
        server.start()
        server.wait_until_answering()
        yield server
    finally:
        server.stop()
        server.report()


async def open_socket(url: str, origin: str, cookie: str, timeout: float):
    socket = await connect(
        url,
        origin=origin,
        additional_headers={"Cookie": cookie},
        # The server's connect timeout decides; ours only bounds the test.
        open_timeout=timeout + 5,
        ping_interval=None,
        close_timeout=1,
    )
    opened = time.monotonic()
    return socket, opened


async def storm(server, cookies: list[str], topic_ids, timeout: float):
    ws_url = server.url.replace("http://", "ws://", 1)
    query = "&".join(f"topic={pk}" for pk in topic_ids)
    url = f"{ws_url}/ws/live/?{query}&lang=en"
    started = time.monotonic()
    results = await asyncio.gather(
        *(open_socket(url, server.url, cookie, timeout) for cookie in cookies),
        return_exceptions=True,
    )
    failures = [result for result in results if isinstance(result, Exception)]
    opened = [result for result in results if not isinstance(result, Exception)]
    sockets = [socket for socket, _ in opened]
    try:
        last_open = max((at for _, at in opened), default=started)
        print(
            f"{len(sockets)} of {len(cookies)} sockets open on one process in"
            f" {last_open - started:.2f} s (connect timeout {timeout} s)"
        )
        # Open, and still open: a socket refused after accepting (4403, 4429)
        # is closed before its ping is read, so it answers no pong.
        await asyncio.gather(*(socket.send('{"type": "ping"}') for socket in sockets))
        frames = await asyncio.gather(
            *(asyncio.wait_for(socket.recv(), 30) for socket in sockets),
            return_exceptions=True,
        )
    finally:
        await asyncio.gather(
            *(socket.close() for socket in sockets), return_exceptions=True
        )
    return failures, frames


def test_a_thousand_sockets_opening_at_once_on_one_process_are_all_accepted(
    settings, one_daphne
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    members = [MemberFactory() for _ in range(MEMBERS)]
    community = CommunityFactory(owner=members[0])
    for member in members[1:]:
        Membership.objects.create(community=community, member=member)
    topics = [TopicFactory(community=community).pk for _ in range(2)]
    name = settings.SESSION_COOKIE_NAME
    cookies = [
        f"{name}={session_key(member)}"
        for member in members
        for _ in range(SOCKETS_PER_MEMBER)
    ]
    timeout = connect_timeout(procfile_daphne_args())

    failures, frames = asyncio.run(storm(one_daphne, cookies, topics, timeout))

    assert not failures, (
        f"{len(failures)} of {len(cookies)} handshakes failed, e.g. {failures[:3]}"
    )
    not_open = [frame for frame in frames if frame != PONG]
    assert not not_open, (
        f"{len(not_open)} sockets did not stay open, e.g. {not_open[:3]}"
    )
