"""Real processes for integration tests: our own redis-server and Daphne servers.

A test here starts its own redis-server on a spare port (so it may stop and
restart it; the machine's Redis is never touched) and as many Daphne processes
as it needs, each on its own port, all sharing the test database pytest-django
created (the tests are transactional, so what the test writes is committed and
every process sees it). Every wait is bounded; every process is stopped in the
fixture's teardown, and its log is printed there (pytest shows it when the test
failed).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tests import services

START_TIMEOUT = 20  # seconds, for a process to answer on its port
STOP_TIMEOUT = 10  # seconds, for a process to exit after SIGTERM
ROOT = Path(__file__).resolve().parents[2]
DAPHNE = Path(sys.executable).with_name("daphne")


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL that names the test database, for a server process."""
    engine = settings_dict["ENGINE"]
    name = str(settings_dict["NAME"])
    if engine == "django.db.backends.sqlite3":
        if name == ":memory:" or name.startswith("file:"):
            pytest.fail("Server processes need the SQLite test database in a file.")
        # WAL mode (settings) lets several processes share the file.
        return f"sqlite:///{name}"
    if engine == "django.db.backends.postgresql":
        auth = quote(settings_dict.get("USER") or "", safe="")
        if settings_dict.get("PASSWORD"):
            auth += ":" + quote(settings_dict["PASSWORD"], safe="")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        return f"postgres://{auth}@{host}:{port}/{quote(name, safe='')}"
    pytest.fail(f"Integration tests do not know how to share a {engine} database")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, limit: int = 6000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-limit:]


class Process:
    """One server process listening on `port`, its output in a log file (a
    file, not a pipe: nobody reads a pipe while the test runs, and a full pipe
    would block the server)."""

    def __init__(self, name, command, *, port: int, url: str, log: Path, env):
        self.name = name
        self.command = command
        self.port = port
        self.url = url
        self.log = log
        self.env = env
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_answering(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not answers(self.port):
            if self.popen.poll() is not None:
                pytest.fail(
                    f"{self.name} exited with {self.popen.returncode} before "
                    f"answering on port {self.port}:\n{tail(self.log)}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{self.name} did not answer on port {self.port} within "
                    f"{timeout} s:\n{tail(self.log)}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=STOP_TIMEOUT)

    def report(self) -> None:
        sys.stderr.write(f"--- {self.name} log ({' '.join(self.command)}) ---\n")
        sys.stderr.write(tail(self.log) + "\n")


@pytest.fixture
def redis_server(tmp_path):
    """Our own redis-server on a spare port, with nothing persisted: the test
    may stop it (`.stop()`) and start it again on the same port (`.start()`
    then `.wait_until_answering()`). `.url` is its REDIS_URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        services.missing("redis-server not found (apt-get install redis-server)")
    port = free_port()
    server = Process(
        "redis-server",
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
            str(tmp_path),
        ],
        port=port,
        url=f"redis://127.0.0.1:{port}/0",
        log=tmp_path / "redis.log",
        env=dict(os.environ),
    )
    try:
        server.start()
        server.wait_until_answering()
        yield server
    finally:
        server.stop()
        server.report()


@pytest.fixture
def start_daphnes(transactional_db, redis_server, tmp_path):
    """Start `count` Daphne processes on the test database and our redis-server,
    side by side, and wait for each; returns them (`.url` is the base URL,
    `.log` the server's output)."""
    servers: list[Process] = []
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": redis_server.url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    def start(count: int) -> list[Process]:
        started = []
        for _ in range(count):
            port = free_port()
            name = f"daphne-{len(servers) + 1}"
            server = Process(
                name,
                [
                    str(DAPHNE),
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "project.asgi:application",
                ],
                port=port,
                url=f"http://127.0.0.1:{port}",
                log=tmp_path / f"{name}.log",
                env=env,
            )
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
