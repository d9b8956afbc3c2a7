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

import threading

import pytest

from chat import broadcast
from tests import servers, services

ACTION_TIMEOUT_MS = 15_000  # each click, fill, navigation and expect()

# An init script: every Content-Security-Policy violation a page meets is
# reported to the test (Chromium logs most of them to the console too, but the
# event is the one sure channel).
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCspViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "inline"}` +
    ` (${event.sourceFile || location.href}:${event.lineNumber})`
  );
});
"""


@pytest.fixture(autouse=True)
def broadcasts_run_outside_the_browser_thread(monkeypatch):
    """A write made here that broadcasts on commit (the revocation path reacts
    to saving a member's password, for one) would run its send with
    async_to_sync, which refuses a thread whose event loop is marked running,
    as Playwright marks this one (see above). Run each send in a thread of its
    own instead, and wait for it."""
    dispatch = broadcast._dispatch

    def in_a_thread(send):
        failures = []

        def run():
            try:
                dispatch(send)
            except BaseException as exc:  # re-raised in the test's thread
                failures.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
        if failures:
            raise failures[0]

    monkeypatch.setattr(broadcast, "_dispatch", in_a_thread)


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
def page_problems():
    """What went wrong on the pages of this test, as it happens: uncaught JS
    errors, console errors (a failed load, an htmx error event, a refused
    resource) and Content-Security-Policy violations. A page in normal use has
    none; a test that provokes one on purpose removes it from this list."""
    return []


@pytest.fixture
def new_context(browser, live_server_url, page_problems):
    """Make browser contexts (one each = one person's browser) on the live server.

    Every page made in them fails the test if it has a problem (page_problems).
    """
    contexts = []

    def watch(page):
        page.on(
            "pageerror",
            lambda error: page_problems.append(f"{page.url}: uncaught {error}"),
        )
        page.on(
            "console",
            lambda message: (
                page_problems.append(
                    f"{page.url}: console: {message.text}"
                    f" ({message.location.get('url') or 'page'})"
                )
                if message.type == "error"
                else None
            ),
        )

    def make(**options):
        options.setdefault("base_url", live_server_url)
        options.setdefault("locale", "en-US")
        context = browser.new_context(**options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        context.expose_binding(
            "__reportCspViolation",
            lambda source, text: page_problems.append(
                f"{source['page'].url}: CSP: {text}"
            ),
        )
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.on("page", watch)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not page_problems, "Problems on the pages:\n" + "\n".join(page_problems)
