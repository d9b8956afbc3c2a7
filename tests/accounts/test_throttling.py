"""Login throttling: per client address (behind the reverse proxy too), per
nickname from any address, and no unthrottled side door through the admin.

allauth keeps the counts in the cache (Redis when REDIS_URL is set); the
autouse `_clear_cache` fixture in tests/conftest.py starts every test at zero.
"""

import pytest
from django.test import Client

from tests.accounts.helpers import logged_in_member_id
from tests.conftest import PASSWORD, client_for
from tests.test_settings import environment, python

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"
# ACCOUNT_RATE_LIMITS["login_failed"] in project/settings.py.
FAILURES_PER_ADDRESS = 10
FAILURES_PER_NICKNAME = 5
THROTTLED = "Too many failed login attempts"


def log_in(client: Client, nickname: str, password: str, **extra):
    return client.post(
        "/accounts/login/", {"login": nickname, "password": password}, **extra
    )


def fail_from(client: Client, count: int, **extra):
    # Each failure on a nickname of its own, so only the per-address limit
    # can be what stops the client.
    for n in range(count):
        response = log_in(client, f"nobody{n}", WRONG, **extra)
        assert THROTTLED not in response.text


# --- Behind the reverse proxy ------------------------------------------------------


@pytest.fixture
def behind_one_proxy(settings):
    # What TRUSTED_PROXY_COUNT=1 in the environment sets (checked below).
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1


def via_proxy(client_address: str) -> Client:
    """A browser whose requests all reach Daphne from the proxy's address."""
    return Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=client_address)


def test_behind_the_proxy_each_client_address_has_its_own_failure_count(
    behind_one_proxy, aiko
):
    noisy = via_proxy("203.0.113.7")
    fail_from(noisy, FAILURES_PER_ADDRESS)

    quiet = via_proxy("198.51.100.20")
    log_in(quiet, "aiko", PASSWORD)
    log_in(noisy, "aiko", PASSWORD)

    assert logged_in_member_id(quiet) == aiko.pk
    assert logged_in_member_id(noisy) is None


def test_behind_the_proxy_the_address_the_proxy_appended_counts_not_a_forged_one(
    behind_one_proxy, aiko
):
    # nginx's $proxy_add_x_forwarded_for keeps what the client sent and
    # appends the address it saw: only the last entry is the proxy's word.
    for n in range(FAILURES_PER_ADDRESS):
        forged = Client(
            REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7"
        )
        log_in(forged, f"nobody{n}", WRONG)

    still_the_same = Client(
        REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7"
    )
    response = log_in(still_the_same, "aiko", PASSWORD)

    assert THROTTLED in response.text
    assert logged_in_member_id(still_the_same) is None


def test_without_a_trusted_proxy_a_forged_forwarded_for_does_not_escape_the_throttle(
    aiko,
):
    for n in range(FAILURES_PER_ADDRESS):
        client = Client(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
        log_in(client, f"nobody{n}", WRONG)

    client = Client(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="192.0.2.200")
    response = log_in(client, "aiko", PASSWORD)

    assert THROTTLED in response.text
    assert logged_in_member_id(client) is None


def proxy_count_under(env: dict[str, str]) -> int:
    result = python(
        [
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.ALLAUTH_TRUSTED_PROXY_COUNT)",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


def test_trusted_proxy_count_comes_from_the_environment_and_defaults_to_none():
    env = environment(DJANGO_DEBUG="1")
    env.pop("TRUSTED_PROXY_COUNT", None)

    assert proxy_count_under(env) == 0
    assert proxy_count_under({**env, "TRUSTED_PROXY_COUNT": "1"}) == 1


# --- Per nickname, from any address -------------------------------------------------


@pytest.mark.parametrize(
    "attempt",
    [
        {"REMOTE_ADDR": "198.51.100.1"},
        {"REMOTE_ADDR": "198.51.100.1", "HTTP_HOST": "127.0.0.1:1234"},
        {"REMOTE_ADDR": "198.51.100.1", "HTTP_HOST": "localhost"},
    ],
    ids=["another-address", "another-host-port", "another-host-name"],
)
@pytest.mark.parametrize("spelling", ["aiko", "AIKO", "Ａｉｋｏ"])
def test_failures_on_a_nickname_lock_it_from_any_address_in_any_spelling(
    aiko, attempt, spelling
):
    for n in range(FAILURES_PER_NICKNAME):
        client = Client(REMOTE_ADDR=f"203.0.113.{n}")
        response = log_in(client, spelling, WRONG)
        assert THROTTLED not in response.text

    client = Client(**attempt)
    response = log_in(client, "aiko", PASSWORD)

    assert THROTTLED in response.text
    assert logged_in_member_id(client) is None


def test_failures_on_one_nickname_do_not_lock_another(aiko, ben):
    for n in range(FAILURES_PER_NICKNAME):
        log_in(Client(REMOTE_ADDR=f"203.0.113.{n}"), "aiko", WRONG)

    client = Client(REMOTE_ADDR="198.51.100.1")
    log_in(client, "ben", PASSWORD)

    assert logged_in_member_id(client) == ben.pk


# --- The admin has no login of its own ----------------------------------------------

ADMIN = "/admin/"


@pytest.fixture
def boss(member_factory):
    return member_factory(nickname="boss", is_staff=True, is_superuser=True)


def credentials(password: str) -> dict[str, str]:
    # Both forms' field names: Django's admin login asks for "username",
    # allauth's for "login".
    return {"username": "boss", "login": "boss", "password": password}


def test_the_admin_login_path_takes_no_password_even_after_fifteen_wrong_ones(boss):
    client = Client()
    admin_login = f"/admin/login/?next={ADMIN}"
    for _ in range(15):
        client.post(admin_login, credentials(WRONG))

    client.post(admin_login, credentials(PASSWORD))

    assert logged_in_member_id(client) is None
    assert client.get(ADMIN).status_code == 302


def test_the_admin_sends_visitors_to_the_member_login_where_failures_are_throttled(
    boss,
):
    client = Client()
    page = client.get(ADMIN, follow=True)
    login_url = page.redirect_chain[-1][0]
    assert login_url == f"/accounts/login/?next={ADMIN}"

    for _ in range(15):
        client.post(login_url, credentials(WRONG))
    response = client.post(login_url, credentials(PASSWORD))

    assert THROTTLED in response.text
    assert logged_in_member_id(client) is None
    assert client.get(ADMIN).status_code == 302


def test_staff_reach_the_admin_through_the_member_login(boss):
    client = Client()
    login_url = client.get(ADMIN, follow=True).redirect_chain[-1][0]

    response = client.post(login_url, credentials(PASSWORD), follow=True)

    assert response.redirect_chain[-1][0] == ADMIN
    assert response.status_code == 200
    assert logged_in_member_id(client) == boss.pk


def test_the_admin_login_does_not_send_anyone_to_another_site(boss):
    client = Client()

    response = client.get("/admin/login/?next=https://evil.example/")

    assert response["Location"] == f"/accounts/login/?next={ADMIN}"


def test_a_logged_in_member_who_is_not_staff_is_refused_plainly_not_looped(
    member_client,
):
    response = member_client.get(ADMIN, follow=True)

    assert response.status_code == 403
    assert len(response.redirect_chain) == 1


def test_staff_logged_in_at_the_admin_login_go_on_to_the_admin(boss):
    response = client_for(boss).get(f"/admin/login/?next={ADMIN}")

    assert response.status_code == 302
    assert response["Location"] == ADMIN


def test_the_admin_logout_is_the_member_logout(boss):
    client = client_for(boss)

    response = client.post("/admin/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert logged_in_member_id(client) is None


def test_the_admin_password_change_is_the_member_one(boss):
    response = client_for(boss).get("/admin/password_change/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/change/"
