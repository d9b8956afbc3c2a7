"""/metrics (project/metrics.py): who may read it, what it says, and that its
figures are the process's live ones.

Staff with a session, or a scraper with `Authorization: Bearer
<METRICS_TOKEN>`, get the page; everyone else gets exactly what an address
that does not exist gets, whatever the method.
"""

import asyncio
import os
import socket
import subprocess
import sys

import pytest
from django.test import AsyncClient, Client
from prometheus_client import REGISTRY
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from chat import hub
from project import metrics
from tests.chat import conftest as chat_fixtures
from tests.conftest import client_for

# Settings are read once per process: a fresh one shows what the environment
# makes of METRICS_TOKEN.
SHOW_TOKEN = (
    "import django; django.setup(); from django.conf import settings;"
    " print(repr(settings.METRICS_TOKEN))"
)
# How tests/chat opens a live socket through the real application: a fresh
# channel layer and hub for the test, a login session, the site's origin.
live_layer = chat_fixtures.live_layer
open_tab = chat_fixtures.open_tab
open_socket = chat_fixtures.open_socket

TOKEN = "s3cret-metrics-token-for-tests"
NAMES = {
    "enishi_live_sockets": "gauge",
    "enishi_live_groups": "gauge",
    "enishi_live_backlog_frames": "gauge",
    "enishi_live_evictions": "counter",
    "enishi_live_deliveries": "counter",
    "enishi_live_layer_reconnects": "counter",
}


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


@pytest.fixture
def staff(member_factory):
    return member_factory(nickname="keeper", is_staff=True)


@pytest.fixture
def staff_client(staff):
    return client_for(staff)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def figures(response) -> dict[str, tuple[str, float, dict]]:
    """Each sample of the page: its name, kind, value and labels."""
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[sample.name] = (family.type, sample.value, sample.labels)
    return found


def assert_not_found(response, client):
    """The answer is the one an address that does not exist gets."""
    unknown = client.generic(response.request["REQUEST_METHOD"], "/no-such-page-here")
    assert response.status_code == 404
    assert response.content == unknown.content
    assert dict(response.items()) == dict(unknown.items())


# --- Who may read it ------------------------------------------------------


@pytest.mark.django_db
def test_an_anonymous_visitor_gets_a_plain_404(client, token):
    assert_not_found(client.get("/metrics"), client)


def test_a_member_who_is_not_staff_gets_a_plain_404(member_client, token):
    assert_not_found(member_client.get("/metrics"), member_client)


def test_a_deactivated_staff_member_gets_a_plain_404(staff, staff_client):
    staff.is_active = False
    staff.save()

    assert_not_found(staff_client.get("/metrics"), staff_client)


def test_staff_get_every_figure_in_prometheus_text_format(staff_client):
    response = staff_client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    found = figures(response)
    for name, kind in NAMES.items():
        sample = name + ("_total" if kind == "counter" else "")
        assert found[sample][0] == kind, sample
    # Proxies and browsers keep no copy of a moment's figures.
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_right_token_gets_the_page_without_a_session(client, token):
    response = client.get("/metrics", headers=bearer(TOKEN))

    assert response.status_code == 200
    assert "enishi_live_sockets" in figures(response)


@pytest.mark.django_db
def test_the_bearer_scheme_is_case_insensitive(client, token):
    response = client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN.upper()}",
        "Bearer ",
        f"Basic {TOKEN}",
        TOKEN,
    ],
)
def test_a_wrong_token_gets_a_plain_404(client, token, authorization):
    response = client.get("/metrics", headers={"Authorization": authorization})

    assert_not_found(response, client)


@pytest.mark.django_db
@pytest.mark.parametrize("given", ["", TOKEN])
def test_with_metrics_token_empty_no_token_opens_the_page(client, settings, given):
    settings.METRICS_TOKEN = ""

    assert_not_found(client.get("/metrics", headers=bearer(given)), client)


@pytest.mark.parametrize(
    ("environment", "expected"), [({}, ""), ({"METRICS_TOKEN": "t0k"}, "t0k")]
)
def test_metrics_token_comes_from_the_environment_and_is_empty_unless_set(
    environment, expected
):
    env = {k: v for k, v in os.environ.items() if k != "METRICS_TOKEN"}
    # DEBUG on: a production process refuses to start without SECRET_KEY.
    env.update(environment, DJANGO_SETTINGS_MODULE="project.settings", DJANGO_DEBUG="1")
    shown = subprocess.run(
        [sys.executable, "-c", SHOW_TOKEN],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )

    assert shown.stdout == repr(expected) + "\n"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_visitor_who_may_not_read_it_gets_404_for_any_method(method):
    # Not the CSRF refusal, and not 405 with an Allow header: both would say
    # the address exists.
    csrf_client = Client(enforce_csrf_checks=True)

    assert_not_found(csrf_client.generic(method, "/metrics"), csrf_client)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
def test_only_get_reads_it(staff_client, method, token):
    response = staff_client.generic(method, "/metrics")

    assert response.status_code == 405
    assert response["Allow"] == "GET"
    by_token = Client().generic(method, "/metrics", headers=bearer(TOKEN))
    assert by_token.status_code == 405


def test_a_scrape_over_plain_http_is_not_sent_to_https(settings, token):
    # Prometheus scrapes each process's own port, behind the TLS proxy.
    settings.SECURE_SSL_REDIRECT = True
    client = Client()

    assert client.get("/metrics", headers=bearer(TOKEN)).status_code == 200
    assert client.get("/metrics/", headers=bearer(TOKEN)).status_code == 301
    assert client.get("/accounts/login/").status_code == 301


# --- What it says ----------------------------------------------------------


def test_each_figure_is_the_hubs_with_the_process_label(staff_client, monkeypatch):
    monkeypatch.setattr(
        hub,
        "snapshot",
        lambda: {
            "sockets": 11,
            "groups": 22,
            "backlog_frames": 33,
            "evictions": 44,
            "deliveries": 55,
            "layer_reconnects": 66,
        },
    )

    found = figures(staff_client.get("/metrics"))

    process = {"process": f"{socket.gethostname()}:{os.getpid()}"}
    assert found == {
        "enishi_live_sockets": ("gauge", 11, process),
        "enishi_live_groups": ("gauge", 22, process),
        "enishi_live_backlog_frames": ("gauge", 33, process),
        "enishi_live_evictions_total": ("counter", 44, process),
        "enishi_live_deliveries_total": ("counter", 55, process),
        "enishi_live_layer_reconnects_total": ("counter", 66, process),
    }


def test_the_page_holds_only_its_own_registry(staff_client):
    # prometheus_client's global registry (its process and garbage collector
    # figures, or any library's) does not leak in: every family is ours.
    text = staff_client.get("/metrics").content.decode()

    families = {f.name for f in text_string_to_metric_families(text)}
    assert families == set(NAMES)
    assert metrics.registry is not REGISTRY


# --- The figures are the live ones -------------------------------------------


async def scraped_sockets(client) -> float:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return figures(response)["enishi_live_sockets"][1]


async def eventually(client, expected: float, timeout: float = 3) -> float:
    """The socket count once it reaches `expected` (or the last one seen)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        seen = await scraped_sockets(client)
        if seen == expected or asyncio.get_running_loop().time() > deadline:
            return seen
        await asyncio.sleep(0.05)


@pytest.mark.django_db(transaction=True)
async def test_an_open_socket_counts_while_it_is_open(staff, member, open_socket):
    client = AsyncClient()
    await client.aforce_login(staff)
    before = await scraped_sockets(client)

    socket_ = await open_socket(member)
    assert await eventually(client, before + 1) == before + 1

    await socket_.disconnect()
    assert await eventually(client, before) == before
