"""Browser tests: Debian's Chromium, driven by Playwright, against a real Daphne.

Each test gets its own Daphne process (`live_server_url`), started on a free
port with DATABASE_URL pointing at the test database pytest-django created, so
what a test writes (committed: these tests are transactional) the server sees,
and the other way round. REDIS_URL is passed through unchanged: in CI the
server and the test process share the Redis pub/sub layer.

Playwright's sync API marks its event loop as running in this thread for as
long as it is started (it runs the loop in a greenlet and switches back and
forth). Django then takes every ORM call here for one made from async code and
refuses it, so while the browser is up DJANGO_ALLOW_ASYNC_UNSAFE is set: the
ORM calls still run synchronously in this thread, nothing is actually async.
The browser lives for one module only, so the marked loop never leaks into the
asyncio tests that run after this folder.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tests import services

SERVER_START_TIMEOUT = 20  # seconds
SERVER_STOP_TIMEOUT = 10  # seconds
ACTION_TIMEOUT_MS = 15_000  # each click, fill, navigation and expect()
DAPHNE = Path(sys.executable).with_name("daphne")
ROOT = Path(__file__).resolve().parents[2]


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the server process that names the test database."""
    engine = settings_dict["ENGINE"]
    name = str(settings_dict["NAME"])
    if engine == "django.db.backends.sqlite3":
        if name == ":memory:" or name.startswith("file:"):
            pytest.fail(
                "Browser tests need the SQLite test database in a file (DATABASES"
                " TEST NAME) so the server process can open it too."
            )
        return f"sqlite:///{name}"
    if engine == "django.db.backends.postgresql":
        auth = quote(settings_dict.get("USER") or "", safe="")
        if settings_dict.get("PASSWORD"):
            auth += ":" + quote(settings_dict["PASSWORD"], safe="")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        return f"postgres://{auth}@{host}:{port}/{quote(name, safe='')}"
    pytest.fail(f"Browser tests do not know how to share a {engine} database")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, limit: int = 6000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-limit:]


@pytest.fixture
def daphne_args() -> list[str]:
    """Extra command-line arguments for Daphne; parametrize it to change them."""
    return []


@pytest.fixture
def live_server_url(transactional_db, daphne_args, tmp_path):
    """Start Daphne on the test database and yield its base URL (no slash)."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "DJANGO_DEBUG": "1",  # static files come from the finders
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    # The server is a normal async process: it must not inherit our escape hatch.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log_path = tmp_path / "daphne.log"
    command = [
        str(DAPHNE),
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        *daphne_args,
        "project.asgi:application",
    ]
    # A file, not a pipe: nobody reads a pipe while the test runs, and a full
    # pipe would block the server's access log.
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _answers(port):
            if server.poll() is not None:
                pytest.fail(
                    f"Daphne exited with {server.returncode} before answering:\n"
                    + _tail(log_path)
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"Daphne did not answer on port {port} within "
                    f"{SERVER_START_TIMEOUT} s:\n" + _tail(log_path)
                )
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=SERVER_STOP_TIMEOUT)
        # Shown by pytest only when the test failed.
        sys.stderr.write(f"--- Daphne log ({' '.join(command)}) ---\n")
        sys.stderr.write(_tail(log_path))


@pytest.fixture(scope="module")
def browser():
    """Chromium, started once per module (and stopped before the next one)."""
    executable = services.chromium_path()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    env = pytest.MonkeyPatch()
    env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=executable,
            args=services.CHROMIUM_ARGS,
            timeout=30_000,
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        env.undo()


@pytest.fixture
def new_context(browser, live_server_url):
    """Make browser contexts (one each = one person's browser) on the live server.

    Every page made in them fails the test if it throws an uncaught JS error.
    """
    contexts = []
    errors = []

    def make(**options):
        options.setdefault("base_url", live_server_url)
        options.setdefault("locale", "en-US")
        context = browser.new_context(**options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        context.on(
            "page",
            lambda page: page.on(
                "pageerror", lambda error: errors.append(f"{page.url}: {error}")
            ),
        )
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the pages: {errors}"
