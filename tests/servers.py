"""Real server processes for the browser and integration tests.

A test that needs a real server starts it here: Daphne on a free port (or
uvicorn with the Procfile's uvicorn options, or any other process, such as the
integration tests' own redis-server), sharing the test database pytest-django
created through DATABASE_URL (those tests are transactional, so what the test
writes is committed and every process sees it, and the other way round).
Every wait is bounded; the fixture that starts a process stops it in its
teardown (SIGTERM, then SIGKILL) and prints its log there, which pytest shows
when the test failed.
"""

import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

START_TIMEOUT = 20  # seconds, for a process to answer on its port
STOP_TIMEOUT = 10  # seconds, for a process to exit after SIGTERM
ROOT = Path(__file__).resolve().parents[1]
DAPHNE = Path(sys.executable).with_name("daphne")
UVICORN = Path(sys.executable).with_name("uvicorn")


def database_url(settings_dict: dict | None = None) -> str:
    """A DATABASE_URL that names the test database, for a server process."""
    settings_dict = settings_dict or connection.settings_dict
    engine = settings_dict["ENGINE"]
    name = str(settings_dict["NAME"])
    if engine == "django.db.backends.sqlite3":
        if name == ":memory:" or name.startswith("file:"):
            pytest.fail(
                "Server processes need the SQLite test database in a file"
                " (DATABASES TEST NAME) so that they can open it too."
            )
        # WAL mode (settings) lets several processes share the file.
        return f"sqlite:///{name}"
    if engine == "django.db.backends.postgresql":
        auth = quote(settings_dict.get("USER") or "", safe="")
        if settings_dict.get("PASSWORD"):
            auth += ":" + quote(settings_dict["PASSWORD"], safe="")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        return f"postgres://{auth}@{host}:{port}/{quote(name, safe='')}"
    pytest.fail(f"Server processes cannot share a {engine} database")


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a Daphne process on the test database."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_DEBUG": "1",  # static files come from the finders
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    # The server is a normal async process: it must not inherit the browser
    # tests' escape hatch (tests/e2e/conftest.py).
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


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


def daphne(name: str, *, log_dir: Path, env: dict, args=()) -> Process:
    """A Daphne process (not started yet) serving the project on a free port;
    `.url` is its base URL (no slash), `.log` its output."""
    port = free_port()
    return Process(
        name,
        [
            str(DAPHNE),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            *args,
            "project.asgi:application",
        ],
        port=port,
        url=f"http://127.0.0.1:{port}",
        log=log_dir / f"{name}.log",
        env=env,
    )


def procfile_uvicorn_args() -> list[str]:
    """The options of the Procfile's uvicorn line (the commented `# web:
    uvicorn ...` alternative), without the address, the port and the
    application: what a site serving with uvicorn runs."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("# web: uvicorn "):
            words = shlex.split(line.removeprefix("#"))
            break
    else:
        pytest.fail("no `# web: uvicorn ...` line in the Procfile")
    args, rest = [], iter(words[2:])
    for word in rest:
        if word in ("--host", "--port"):
            next(rest)
        elif word != "project.asgi:application":
            args.append(word)
    return args


def uvicorn(name: str, *, log_dir: Path, env: dict, args=None) -> Process:
    """A uvicorn process (not started yet) serving the project on a free port
    with `args`, by default the Procfile's uvicorn options; `.url` is its base
    URL (no slash), `.log` its output."""
    port = free_port()
    return Process(
        name,
        [
            str(UVICORN),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *(procfile_uvicorn_args() if args is None else args),
            "project.asgi:application",
        ],
        port=port,
        url=f"http://127.0.0.1:{port}",
        log=log_dir / f"{name}.log",
        env=env,
    )
