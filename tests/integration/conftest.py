"""Real processes for integration tests: our own redis-server and Daphne servers.

A test here starts its own redis-server on a spare port, or several (so it
may stop and restart one; the machine's Redis is never touched), and as many
Daphne processes as it needs, each on its own port, all sharing the test
database pytest-django created (the tests are transactional, so what the
test writes is committed and every process sees it). tests/servers.py starts
them; every wait is bounded; every process is stopped in the fixture's
teardown, and its log is printed there (pytest shows it when the test failed).
"""

import os
import shutil
from contextlib import ExitStack

import pytest

from tests import services
from tests.servers import Process, daphne, free_port, server_env


@pytest.fixture
def start_redis(tmp_path):
    """Start our own redis-server on a spare port, with nothing persisted, each
    time it is called (a test that needs two Redis servers calls it twice);
    returns it. The test may stop one (`.stop()`) and start it again on the
    same port (`.start()` then `.wait_until_answering()`). `.url` is its
    REDIS_URL. Every one started is stopped at the end of the test."""
    executable = shutil.which("redis-server")
    if executable is None:
        services.missing("redis-server not found (apt-get install redis-server)")
    servers: list[Process] = []

    def start() -> Process:
        number = len(servers) + 1
        directory = tmp_path / f"redis-{number}"
        directory.mkdir()
        port = free_port()
        server = Process(
            f"redis-server-{number}",
            [
                executable,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
            ],
            port=port,
            url=f"redis://127.0.0.1:{port}/0",
            log=tmp_path / f"redis-{number}.log",
            env=dict(os.environ),
        )
        servers.append(server)
        server.start()
        server.wait_until_answering()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.report()


@pytest.fixture
def redis_server(start_redis):
    """The test's one redis-server (start_redis above); the Daphne processes of
    start_daphnes use it as their REDIS_URL."""
    return start_redis()


@pytest.fixture
def start_daphnes(transactional_db, redis_server, tmp_path):
    """Start `count` Daphne processes on the test database and our redis-server,
    side by side, and wait for each; returns them (`.url` is the base URL,
    `.log` the server's output). Keyword arguments are more environment for
    those processes (`start(2, CHANNEL_LAYER_REDIS_URLS=...)`)."""
    servers: list[Process] = []

    def start(count: int, **extra_env: str) -> list[Process]:
        env = server_env(REDIS_URL=redis_server.url, **extra_env)
        started = []
        for _ in range(count):
            server = daphne(f"daphne-{len(servers) + 1}", log_dir=tmp_path, env=env)
            servers.append(server)
            server.start()
            started.append(server)
        for server in started:
            server.wait_until_answering()
        return started

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.report()


@pytest.fixture
def sockets():
    """Closes every socket the test opened, however it ends."""
    with ExitStack() as stack:
        yield stack
