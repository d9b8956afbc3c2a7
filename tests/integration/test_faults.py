"""Nothing is lost under faults: the short version of `make faults`.

Two Daphne processes on the test database and our own redis-server (the
fixtures of conftest.py and tests/servers.py), 20 tabs that follow the topic
page's protocol (bench/tabs.py: page, socket, catch-up with its cursor,
reconnects, a load balancer's failover) while 4 members post once a second.
Meanwhile Redis is restarted, one server is killed with SIGKILL and started
again, and Redis is stopped until the posting ends (the schedule of `make
faults`, a quarter as long). When the tabs have caught up (or a bounded wait
has passed), every tab holds every saved message, in order, once; no row is
saved twice; no post was answered 5xx, and no catch-up either but for 503
(a busy process shedding load, which the page honours).
"""

import asyncio

import pytest

from bench import seed
from bench.faults import procfile_daphne_args
from bench.scenario import FaultPlan, describe, evaluate, run_scenario
from bench.tabs import Site
from chat.models import Message
from tests.servers import daphne, server_env

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

PLAN = FaultPlan(tabs=20, posters=4, tabs_per_member=5, scale=0.25, seed=7)
# After the tail, how long the tabs may still take to hold every answered post.
SETTLE = 20.0


class Processes:
    """The controls bench.tabs calls, on the fixtures' processes."""

    def __init__(self, redis, servers):
        self.redis, self.servers = redis, servers

    def stop_redis(self) -> None:
        self.redis.stop()

    def start_redis(self) -> None:
        self.redis.start()
        self.redis.wait_until_answering()

    def kill_server(self, index: int) -> None:
        popen = self.servers[index].popen
        popen.kill()
        popen.wait(timeout=10)

    def start_server(self, index: int) -> None:
        self.servers[index].start()
        self.servers[index].wait_until_answering()


@pytest.fixture
def two_servers(transactional_db, redis_server, tmp_path):
    """Two Daphne processes with the Procfile's options, on the test
    database and our redis-server."""
    env = server_env(REDIS_URL=redis_server.url)
    servers = [
        daphne(f"daphne-{n}", log_dir=tmp_path, env=env, args=procfile_daphne_args())
        for n in (1, 2)
    ]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_until_answering()
        yield servers
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.report()


def test_no_tab_loses_a_message_when_redis_restarts_a_server_dies_and_redis_stays_down(
    redis_server, two_servers
):
    seeded = seed.seed(PLAN.listeners, PLAN.posters)
    site = Site(
        ports=[server.port for server in two_servers],
        topic_id=seeded["topic_id"],
        session_cookie=seeded["session_cookie"],
        csrf_cookie=seeded["csrf_cookie"],
    )
    run, tabs = asyncio.run(
        run_scenario(
            PLAN,
            site,
            seeded["listeners"],
            seeded["posters"],
            Processes(redis_server, two_servers),
            settle=SETTLE,
        )
    )
    rows = list(
        Message.objects.filter(topic_id=seeded["topic_id"])
        .order_by("pk")
        .values_list("pk", "body")
    )
    result = evaluate(run, tabs, rows)
    print("\n".join(describe(result)))

    assert [fault["fault"] for fault in result["faults"]] == [
        "restart_redis",
        "kill_server",
        "start_server",
        "stop_redis",
        "start_redis",
    ]
    assert result["harness"]["errors"] == {}
    assert result["posts"]["accepted"] > 0
    assert result["missing_at_end"] == {"total": 0, "max_per_tab": 0, "tabs": 0}
    assert result["lost"]["total"] == 0
    assert result["duplicates"] == {"rows": 0, "frames": 0}
    assert result["out_of_order"] == {"posters": 0, "tabs": 0}
    assert result["posts"]["5xx"] == 0, result["posts"]["statuses"]
    # A 503 (with Retry-After) is how a busy process sheds catch-ups; the
    # page waits and asks again. Nothing else of 5xx.
    catchup = result["catchup"]
    assert catchup["5xx"] == catchup["503"], catchup["statuses"]
