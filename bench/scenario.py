"""A run of the fault test: tabs and posters (bench/tabs.py) while faults
happen, and the verdict, for `make faults` (bench/faults.py) and its short
version in the suite (tests/integration/test_faults.py).

`run_scenario` opens the tabs, lets the posters post once a second while a
FaultPlan's faults are injected through the caller's controls (the
redis-server and Daphne processes are the caller's), keeps the tabs
listening a while after the last post, and returns what every tab ended
with; `evaluate` compares that with the topic's rows in the database.
"""

import asyncio
import collections
import contextlib
import random
import time
from dataclasses import dataclass
from typing import Protocol

from bench.client import ms, percentile
from bench.tabs import MARKER, Poster, Run, Site, Tab

perf = time.perf_counter
# Tabs opening at the start of a run, at once (not what is measured).
OPEN_CONCURRENCY = 32
OPEN_WAIT = 60.0


# --- The plan --------------------------------------------------------------------


@dataclass
class FaultPlan:
    """What runs when, in seconds from the first post; every time is
    multiplied by `scale`. Redis is restarted at 20 s, server 1 is killed
    with SIGKILL at 45 s and started again 5 s later, Redis is stopped from
    70 s to the end of the posting; the tabs run `tail` seconds after it.
    A fault due after the end of the posting is left out."""

    tabs: int = 300
    posters: int = 20
    duration: float = 90.0
    scale: float = 1.0
    seed: int = 1
    tabs_per_member: int = 5
    tail: float = 10.0
    redis_restart_at: float = 20.0
    kill_at: float = 45.0
    killed_for: float = 5.0
    redis_down_at: float = 70.0

    @property
    def posting(self) -> float:
        return self.duration * self.scale

    @property
    def posts_per_poster(self) -> int:
        # One post a second: the send budget is 10 per 10 s per member.
        return max(1, round(self.posting))

    @property
    def listeners(self) -> int:
        return -(-self.tabs // self.tabs_per_member)

    def faults(self) -> list[tuple[float, str]]:
        s, end = self.scale, self.posting
        steps = [
            (self.redis_restart_at * s, "restart_redis"),
            (self.kill_at * s, "kill_server"),
            ((self.kill_at + self.killed_for) * s, "start_server"),
            (self.redis_down_at * s, "stop_redis"),
        ]
        kept = [(at, what) for at, what in steps if at < end]
        names = {what for _at, what in kept}
        # Nothing is left down at the end of the posting.
        if "kill_server" in names and "start_server" not in names:
            kept.append((end, "start_server"))
        if "stop_redis" in names:
            kept.append((end, "start_redis"))
        steps = kept
        return sorted(steps)

    def as_dict(self) -> dict:
        return {
            "tabs": self.tabs,
            "posters": self.posters,
            "duration_s": self.duration,
            "scale": self.scale,
            "seed": self.seed,
            "tabs_per_member": self.tabs_per_member,
            "tail_s": self.tail * self.scale,
            "posting_s": self.posting,
            "posts_per_poster": self.posts_per_poster,
            "faults": [
                {"at_s": round(at, 2), "fault": what} for at, what in self.faults()
            ],
        }


class Controls(Protocol):
    """The caller's processes; each call blocks until done (the server or
    Redis started answers again)."""

    def stop_redis(self) -> None: ...
    def start_redis(self) -> None: ...
    def kill_server(self, index: int) -> None: ...
    def start_server(self, index: int) -> None: ...


# --- The run ------------------------------------------------------------------------


async def inject(plan: FaultPlan, run: Run, controls: Controls, say) -> None:
    for at, what in plan.faults():
        delay = run.t0 + at - perf()
        if delay > 0:
            await asyncio.sleep(delay)
        if run.first_fault_at is None:
            run.first_fault_at = perf()
        started = perf()
        say(f"  {perf() - run.t0:6.1f} s  {what.replace('_', ' ')}")
        if what == "restart_redis":
            await asyncio.to_thread(controls.stop_redis)
            await asyncio.to_thread(controls.start_redis)
        elif what in ("kill_server", "start_server"):
            await asyncio.to_thread(getattr(controls, what), 0)
        else:
            await asyncio.to_thread(getattr(controls, what))
        run.faults_done.append(
            {
                "fault": what,
                "at_s": round(started - run.t0, 2),
                "took_s": round(perf() - started, 2),
            }
        )


def snapshot(tabs: list[Tab]) -> dict:
    states = collections.Counter(tab.state for tab in tabs)
    return {
        **dict(sorted(states.items())),
        "catching_up": sum(tab.catching_up for tab in tabs),
    }


async def pulse(run: Run, tabs: list[Tab], say, every: float) -> None:
    """Now and then, where the tabs are: what the run looks like from inside."""
    while True:
        await asyncio.sleep(max(every, 1.0))
        wanted = set(run.accepted.values())
        behind = sum(1 for tab in tabs if not wanted <= tab.ids)
        say(
            f"  {perf() - run.t0:6.1f} s  {snapshot(tabs)}, {behind} tabs "
            f"behind, {len(wanted)} posts accepted"
        )


async def measure_lag(run: Run, tick: float = 0.05) -> None:
    """How late the harness's own loop runs: past a few ms the latencies
    and reconnect times it measures include its own delay."""
    while True:
        before = perf()
        await asyncio.sleep(tick)
        run.loop_lag.append(perf() - before - tick)


def converged(run: Run, tabs: list[Tab]) -> bool:
    """Every tab holds every message whose post was answered, and no
    catch-up is running."""
    wanted = set(run.accepted.values())
    return all(
        tab.stopped_by is not None or (not tab.catching_up and wanted <= tab.ids)
        for tab in tabs
    )


async def run_scenario(
    plan: FaultPlan,
    site: Site,
    listener_keys: list[str],
    poster_keys: list[str],
    controls: Controls,
    *,
    say=print,
    settle: float = 0.0,
) -> tuple[Run, list[Tab]]:
    """Open the tabs, post while the faults happen, keep listening for the
    tail (then, with `settle`, up to that many seconds more until every tab
    holds every answered post), and stop. Returns the record and the tabs
    as they ended."""
    run = Run(site=site, rng=random.Random(plan.seed), bucket_s=10 * plan.scale)
    count = len(site.ports)
    tabs = [
        Tab(run, i, listener_keys[i // plan.tabs_per_member], home=i % count)
        for i in range(plan.tabs)
    ]
    posters = [
        # Spread over the second, so the posts come evenly.
        Poster(run, i, poster_keys[i], home=i % count, phase=i / plan.posters)
        for i in range(plan.posters)
    ]
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def open_tab(tab: Tab) -> None:
        async with gate:
            await tab.load_page()
            tab.task = asyncio.create_task(tab.live())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tab.opened.wait(), OPEN_WAIT)

    async def progress() -> None:
        while True:
            await asyncio.sleep(5)
            say(
                f"  opening: {sum(t.opened.is_set() for t in tabs)}/{len(tabs)} "
                f"open; pages {dict(run.page_statuses)}, failed handshakes "
                f"{dict(run.handshake_failures)}, closes {dict(run.close_codes)}"
            )

    started = perf()
    watch = asyncio.create_task(progress())
    try:
        await asyncio.gather(*(open_tab(tab) for tab in tabs))
        watch.cancel()
        opened = sum(tab.opened.is_set() for tab in tabs)
        say(f"  {opened}/{len(tabs)} tabs open in {perf() - started:.1f} s")
        deadline = perf() + OPEN_WAIT
        while any(tab.catching_up for tab in tabs) and perf() < deadline:
            await asyncio.sleep(0.1)

        run.t0 = perf()
        say(
            f"  posting: {plan.posters} members, one post a second each, "
            f"for {plan.posting:.0f} s"
        )
        posting = [
            asyncio.create_task(p.post_all(run.t0, plan.posts_per_poster))
            for p in posters
        ]
        faults = asyncio.create_task(inject(plan, run, controls, say))
        watch = asyncio.create_task(pulse(run, tabs, say, every=10 * plan.scale))
        lag = asyncio.create_task(measure_lag(run))
        cpu_before, wall_before = time.process_time(), perf()
        await asyncio.wait(posting, timeout=plan.posting + 60)
        await faults
        last_post = perf()
        say(f"  {last_post - run.t0:6.1f} s  last post answered")
        await asyncio.sleep(plan.tail * plan.scale)
        deadline = perf() + settle
        while settle and not converged(run, tabs) and perf() < deadline:
            await asyncio.sleep(0.2)
        run.cpu_pct = round(
            (time.process_time() - cpu_before) / (perf() - wall_before) * 100, 1
        )
        run.end_states = snapshot(tabs)
        say(f"  {perf() - run.t0:6.1f} s  end: {run.end_states}")
        for task in (*posting, watch, lag):
            task.cancel()
    finally:
        run.stopping = True
        await asyncio.gather(*(tab.close() for tab in tabs))
        for poster in posters:
            poster.http.close()
    return run, tabs


# --- The verdict ------------------------------------------------------------------


def reconnect_breakdown(run, bucket: float) -> dict:
    groups = collections.defaultdict(list)
    for closed_at, code, took, handshake in run.reconnect_detail:
        groups[f"{code} at {int(closed_at // bucket * bucket)} s"].append(
            (took, handshake)
        )
    breakdown = {}
    for key, items in sorted(groups.items()):
        took = sorted(t for t, _h in items)
        handshakes = sorted(h for _t, h in items)
        breakdown[key] = {
            "count": len(items),
            "p50": ms(percentile(took, 0.50)),
            "p99": ms(percentile(took, 0.99)),
            "handshake_p50": ms(percentile(handshakes, 0.50)),
            "handshake_p99": ms(percentile(handshakes, 0.99)),
        }
    return breakdown


def evaluate(run: Run, tabs: list[Tab], rows: list[tuple[int, str]]) -> dict:
    """Compare what the tabs ended with against the topic's rows (id, body)
    in the database."""
    rows_of: dict[tuple[int, int], list[int]] = collections.defaultdict(list)
    for message_id, body in rows:
        found = MARKER.search(body)
        if found:
            rows_of[(int(found.group(1)), int(found.group(2)))].append(message_id)
    saved = {message_id for ids in rows_of.values() for message_id in ids}

    by_poster = collections.defaultdict(list)
    for (poster, _seq), ids in sorted(rows_of.items()):
        by_poster[poster].append(min(ids))
    posters_out_of_order = sum(
        1
        for ids in by_poster.values()
        if any(a >= b for a, b in zip(ids, ids[1:], strict=False))
    )

    missing = [len(saved - tab.ids) for tab in tabs]
    # Ids at or below the cursor: the page never asks for them again.
    lost = [sum(1 for mid in saved - tab.ids if mid <= tab.cursor) for tab in tabs]
    # Deliveries missing at the end, by when the post was sent: which fault
    # they belong to.
    bucket = run.bucket_s
    marker_of = {mid: mark for mark, ids in rows_of.items() for mid in ids}
    by_time = collections.Counter()
    for tab in tabs:
        for mid in saved - tab.ids:
            sent = run.sent_at.get(marker_of[mid])
            if sent is not None:
                by_time[(sent - run.t0) // bucket] += 1
    reconnects = sorted(run.reconnects)
    lags = sorted(run.loop_lag)
    latencies = sorted(run.latencies)
    rounds = sorted(run.catchup_rounds)
    fives = {k: v for k, v in run.catchup_statuses.items() if k.startswith("5")}
    post_fives = sum(v for k, v in run.post_statuses.items() if k.startswith("5"))
    post_seconds = sorted(took for _start, took in run.post_seconds)
    first_fault = run.first_fault_at or float("inf")
    calm_posts = sorted(
        took for start, took in run.post_seconds if start + took < first_fault
    )
    dropped = sum(v for k, v in run.handshake_failures.items() if k != "refused")
    return {
        "posts": {
            "sent": sum(run.post_statuses.values()),
            "accepted": len(run.accepted),
            "saved": len(rows_of),
            "statuses": dict(sorted(run.post_statuses.items())),
            "5xx": post_fives,
            "p50_ms": ms(percentile(post_seconds, 0.50)),
            "p99_ms": ms(percentile(post_seconds, 0.99)),
            "max_ms": ms(post_seconds[-1] if post_seconds else None),
            "p50_before_faults_ms": ms(percentile(calm_posts, 0.50)),
            "p99_before_faults_ms": ms(percentile(calm_posts, 0.99)),
            # When (seconds from the first post) and why, the first 20.
            "not_accepted": run.posts_not_accepted[:20],
        },
        "catchup": {
            "statuses": dict(sorted(run.catchup_statuses.items())),
            "5xx": sum(fives.values()),
            "503": run.catchup_statuses.get("503", 0),
            "rounds": len(rounds),
            "round_p50_ms": ms(percentile(rounds, 0.50)),
            "round_p99_ms": ms(percentile(rounds, 0.99)),
            "round_max_ms": ms(rounds[-1] if rounds else None),
            "messages": run.catchup_messages,
            "already_shown": run.catchup_already_shown,
            "mb": round(run.catchup_bytes / 1e6, 1),
            "degraded_frames": run.degraded_frames,
            "polls": run.polls,
        },
        "missing_at_end": {
            "total": sum(missing),
            "max_per_tab": max(missing, default=0),
            "tabs": sum(1 for n in missing if n),
        },
        "lost": {
            "total": sum(lost),
            "max_per_tab": max(lost, default=0),
            "tabs": sum(1 for n in lost if n),
        },
        "tabs_missing_at_end": sum(1 for n in missing if n),
        "missing_by_post_time_s": {
            f"{n * bucket:g}-{(n + 1) * bucket:g}": count
            for n, count in sorted(by_time.items())
        },
        "live_by_time_s": {
            f"{n * bucket:g}-{(n + 1) * bucket:g}": count
            for n, count in sorted(run.live_by_time.items())
        },
        "tabs_at_end": run.end_states,
        "duplicates": {
            "rows": sum(len(ids) - 1 for ids in rows_of.values()),
            "frames": run.frame_duplicates,
        },
        "out_of_order": {
            "posters": posters_out_of_order,
            "tabs": sum(1 for tab in tabs if tab.log != sorted(tab.ids)),
        },
        "reconnect_ms": {
            "count": len(reconnects),
            "p50": ms(percentile(reconnects, 0.50)),
            "p99": ms(percentile(reconnects, 0.99)),
            "max": ms(reconnects[-1] if reconnects else None),
            # By close code and by when the socket closed: the whole time and
            # the successful handshake's part of it.
            "by_close": reconnect_breakdown(run, bucket),
        },
        "live_latency_before_faults_ms": {
            "samples": len(latencies),
            "p50": ms(percentile(latencies, 0.50)),
            "p99": ms(percentile(latencies, 0.99)),
        },
        "handshakes": {
            "dropped": dropped,
            "failures": dict(sorted(run.handshake_failures.items())),
        },
        "close_codes": dict(sorted(run.close_codes.items())),
        "page_statuses": dict(sorted(run.page_statuses.items())),
        "tabs_stopped": sum(1 for tab in tabs if tab.stopped_by is not None),
        "tabs_refused": sum(1 for tab in tabs if tab.refusals),
        "reloads": sum(tab.reloads for tab in tabs),
        "faults": run.faults_done,
        "harness": {
            "cpu_pct": run.cpu_pct,
            "loop_lag_p99_ms": ms(percentile(lags, 0.99)),
            "loop_lag_max_ms": ms(lags[-1] if lags else None),
            "errors": dict(run.harness_errors),
        },
    }


def describe(result: dict) -> list[str]:
    """The result as a few readable lines."""
    posts, catchup = result["posts"], result["catchup"]
    missing, lost = result["missing_at_end"], result["lost"]
    rec, lat = result["reconnect_ms"], result["live_latency_before_faults_ms"]
    return [
        f"posts: {posts['accepted']} accepted, {posts['saved']} saved of "
        f"{posts['sent']} sent; statuses {posts['statuses']} ({posts['5xx']} 5xx); "
        f"p50 {posts['p50_ms']} ms, p99 {posts['p99_ms']} ms, max {posts['max_ms']} ms "
        f"(before the first fault p50 {posts['p50_before_faults_ms']} ms, "
        f"p99 {posts['p99_before_faults_ms']} ms)",
        f"catch-up: {catchup['rounds']} rounds (p50 {catchup['round_p50_ms']} ms, "
        f"p99 {catchup['round_p99_ms']} ms, max {catchup['round_max_ms']} ms); "
        f"statuses {catchup['statuses']} ({catchup['5xx']} 5xx, "
        f"{catchup['503']} 503); {catchup['messages']} messages fetched "
        f"({catchup['mb']} MB), {catchup['already_shown']} of them already shown; "
        f"{catchup['degraded_frames']} live-degraded frames, {catchup['polls']} polls",
        f"missing at the end: {missing['total']} deliveries over "
        f"{missing['tabs']} tabs (at most {missing['max_per_tab']} on one); "
        f"lost for good (below the tab's cursor): {lost['total']} over "
        f"{lost['tabs']} tabs",
        f"duplicates: {result['duplicates']['rows']} rows, "
        f"{result['duplicates']['frames']} frames; out of order: "
        f"{result['out_of_order']['posters']} posters, "
        f"{result['out_of_order']['tabs']} tabs",
        f"reconnects: {rec['count']}, p50 {rec['p50']} ms, p99 {rec['p99']} ms, "
        f"max {rec['max']} ms; handshakes dropped {result['handshakes']['dropped']} "
        f"{result['handshakes']['failures']}",
        "reconnects by close (p50/p99 ms; handshake p50/p99 ms): "
        + "; ".join(
            f"{key}: {part['count']} x {part['p50']}/{part['p99']} "
            f"({part['handshake_p50']}/{part['handshake_p99']})"
            for key, part in rec["by_close"].items()
        ),
        f"live latency before the first fault: p50 {lat['p50']} ms, "
        f"p99 {lat['p99']} ms ({lat['samples']} deliveries)",
        f"closes: {result['close_codes']}; pages {result['page_statuses']}; "
        f"tabs stopped {result['tabs_stopped']}, refused {result['tabs_refused']}, "
        f"reloads {result['reloads']}",
        f"at the end: {result['tabs_at_end']}; missing by when posted (s): "
        f"{result['missing_by_post_time_s']}",
        f"new messages that came live, by when (s): {result['live_by_time_s']}",
        f"harness: CPU {result['harness']['cpu_pct']}%, its loop late by "
        f"p99 {result['harness']['loop_lag_p99_ms']} ms, max "
        f"{result['harness']['loop_lag_max_ms']} ms; its own errors "
        f"{result['harness']['errors']}",
    ]
