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

import pytest

from tests import servers, services

ACTION_TIMEOUT_MS = 15_000  # each click, fill, navigation and expect()


@pytest.fixture
def daphne_args() -> list[str]:
    """Extra command-line arguments for Daphne; parametrize it to change them."""
    return []


@pytest.fixture
def live_server_url(transactional_db, daphne_args, tmp_path):
    """Start Daphne on the test database and yield its base URL (no slash)."""
    server = servers.daphne(
        "daphne", log_dir=tmp_path, env=servers.server_env(), args=daphne_args
    )
    try:
        server.start()
        server.wait_until_answering()
        yield server.url
    finally:
        server.stop()
        server.report()


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
