"""/metrics: what the live path of this process holds and has done, for Prometheus.

Each Daphne process keeps its own live sockets, its own group subscriptions
and its own Redis pub/sub connection (chat/hub.py), so the figures here are
those of the one process that answers the scrape: open sockets, the groups it
is subscribed to, the frames waiting in its sockets' outgoing backlogs, and,
counted since the process started, the sockets it closed with 1013 for falling
behind, the frames it wrote and the times its pub/sub connection came back.
Deliveries per second are not a figure of their own: Prometheus computes them
from the counter, `rate(enishi_live_deliveries_total[1m])` (README,
"Production").

The collector reads `hub.snapshot()` at the moment of the scrape; this module
keeps no figure of its own. It lives in a registry
of its own, not prometheus_client's global one, so a library that registers
figures there cannot add them to this page, and a test can read this page's
figures alone.

Every figure carries a `process` label, "<host name>:<pid>". Prometheus tells
scrape targets apart by their address (the `instance` label), and each
process should be scraped on an address of its own. Several processes
answering behind one name (a proxy, or a shared port) would otherwise write
into one series in turn: a gauge would jump from one process's figure to
another's, and a counter would seem to restart at every scrape, which makes
rate() meaningless. The pid alone is not enough: processes in containers all
have the same few pids, while each container has a host name of its own. A
restarted process starts new series (its pid changed); its counters start
again from zero anyway, and rate() and sum() take that as any restart.

Who may read the page: an active staff member with a session, or a scraper
sending `Authorization: Bearer <METRICS_TOKEN>` (token access is off while
the setting is empty). Anyone else gets the site's ordinary 404, for every
method, the same answer as for an address that does not exist, so the page
does not tell that it is there. The figures are not secret, but they say how
busy the site is and when it struggles. There is no rate limit: a wrong token
costs one string comparison, and a token from `secrets.token_urlsafe()` is not
guessed by trying.
"""

import os
import socket
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from chat import hub

# hub.snapshot()'s key, the metric's name, its kind and its help text. A
# counter's name ends in _total, as Prometheus names counters.
FIGURES = (
    (
        "sockets",
        "enishi_live_sockets",
        GaugeMetricFamily,
        "Live sockets open in this process.",
    ),
    (
        "groups",
        "enishi_live_groups",
        GaugeMetricFamily,
        "Groups (a member's own, a topic in a language) this process is subscribed to.",
    ),
    (
        "backlog_frames",
        "enishi_live_backlog_frames",
        GaugeMetricFamily,
        "Frames waiting in the outgoing backlogs of this process's sockets.",
    ),
    (
        "evictions",
        "enishi_live_evictions_total",
        CounterMetricFamily,
        "Sockets this process closed with 1013 because they fell behind.",
    ),
    (
        "deliveries",
        "enishi_live_deliveries_total",
        CounterMetricFamily,
        "Frames this process wrote to its sockets.",
    ),
    (
        "layer_reconnects",
        "enishi_live_layer_reconnects_total",
        CounterMetricFamily,
        "Times this process's Redis pub/sub connection came back after a loss.",
    ),
)


def process_name() -> str:
    """The `process` label: host name and pid. Read at every scrape, so a
    process forked after this module was imported still names itself."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LiveCollector(Collector):
    """The live path's figures of this process, read from the hub when
    Prometheus asks (prometheus_client calls collect() at every scrape)."""

    def collect(self) -> Iterator[Metric]:
        snapshot = hub.snapshot()
        process = process_name()
        for key, name, family, documentation in FIGURES:
            metric = family(name, documentation, labels=["process"])
            # A key missing from the snapshot is a broken contract with the
            # hub: a KeyError (a failed scrape, which Prometheus records as
            # up == 0), never a figure quietly left out.
            metric.add_metric([process], snapshot[key])
            yield metric


registry = CollectorRegistry()
registry.register(LiveCollector())


def exposition() -> bytes:
    """This process's figures in Prometheus' text format."""
    return generate_latest(registry)


def token_matches(request) -> bool:
    """The request carries `Authorization: Bearer <METRICS_TOKEN>`, and the
    token is set. Compared in constant time, so how long the comparison takes
    does not tell how much of a guess was right."""
    expected = settings.METRICS_TOKEN
    if not expected:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # The scheme is case-insensitive (RFC 9110, 11.1); the token is not.
    return scheme.lower() == "bearer" and constant_time_compare(given.strip(), expected)


async def may_scrape(request) -> bool:
    if token_matches(request):
        return True
    user = await request.auser()
    return user.is_active and user.is_staff


# login_not_required: a scraper has no session, and a visitor who may not see
# the page is answered 404 below, not sent to the login page (which would say
# the address exists). csrf_exempt: the view changes nothing, and a POST must
# get the same 404 as anywhere else rather than the CSRF refusal.
@login_not_required
@csrf_exempt
@never_cache
async def metrics(request):
    """The page Prometheus scrapes. Async, so that under Daphne it runs on the
    event loop the hub's sockets live on: it reads the hub between two of
    their steps, never while one of them is changing it."""
    if not await may_scrape(request):
        # The session was read (by LoginRequiredMiddleware, and above), so
        # SessionMiddleware would add "Vary: Cookie", which the 404 of an
        # address that does not exist lacks (no view ran, nothing read the
        # session): by that header alone the 404 would say that something is
        # here. Nothing was written to the session. A cache that kept this 404
        # could hand it to staff too; Enishi's proxy caches no page, and
        # scrapers go to each process directly (README, "Production").
        request.session.accessed = False
        raise Http404
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
