"""The load generator: one asyncio process, pinned to its own core.

It opens N listener sockets, posts messages at a fixed rate and times every
delivered frame. Each message carries `bench-<tag>-<seq>-end` in its text; a
byte regex finds it in the received HTML, and the latency is the time from the
moment the post started to the moment the frame was read (one clock: this
process both posts and receives).

Modes (config["mode"]):
- "app": listeners on /ws/live/?topic=<id>&lang=en with a real session cookie;
  posts are real htmx POSTs to /topics/<id>/send/ (session cookie, CSRF cookie
  and header, HX-Request, a fresh client_id each), rotating poster members so
  the per-member rate limit is never what is measured.
- "baseline": listeners on the bare websockets server; a post is a text
  message on its control socket, which broadcasts it.
- "http": no listeners at all; posts only, to time post-to-saved.
- "fanout": listeners as in "app"; a post is a text message on the app's
  bench-only publish socket (bench/asgi.py), which publishes it to the
  topic's group through the real layer: the live path after the save, at
  rates beyond what the POST path offers, driven as the baseline is.

Run as `python -m bench.client CONFIG.json RESULT.json`; progress goes to
stderr.
"""

import asyncio
import contextlib
import gc
import json
import re
import resource
import secrets
import socket
import string
import subprocess
import sys
import time
import uuid
from urllib.parse import urlencode

import psutil
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

MARK = re.compile(rb"bench-([a-z0-9]+)-(\d+)-end")
# Sockets opening at once: a reconnect storm after a deploy is every tab at
# once, not a few at a time; 128 in flight (for the bare server too) keeps
# the client's own connect work from being what is measured. (At 32 the app's
# 1,000 opens took 2.7-3.6 s and the bare server's 0.3-0.5 s; at 128, 2.2 and
# 0.3 s.)
CONNECT_CONCURRENCY = 128
SETTLE_SECONDS = 2.0
DRAIN_STALL_SECONDS = 5.0
SAMPLE_EVERY = 0.1
WARMUP_MESSAGES = 3

perf = time.perf_counter


def log(*args) -> None:
    print("    [client]", *args, file=sys.stderr, flush=True)


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


# --- A minimal keep-alive HTTP/1.1 client (the posts) -------------------------


class HttpConnection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    async def request(self, raw: bytes) -> tuple[int, bytes, bool]:
        """Send one request; return the status, body and whether the server
        keeps the connection open."""
        status, _headers, body, keep = await self.exchange(raw)
        return status, body, keep

    async def exchange(self, raw: bytes) -> tuple[int, dict[str, str], bytes, bool]:
        """Send one request; return the status, the headers (names in lower
        case), the body and whether the server keeps the connection open."""
        self.writer.write(raw)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed before a response")
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readline()
            body = b"".join(chunks)
        else:
            body = await self.reader.read()
            return status, headers, body, False
        return status, headers, body, headers.get("connection", "").lower() != "close"


class Poster:
    """One poster member: their session, their CSRF token (cookie + header, as
    a browser's htmx sends it) and a small pool of keep-alive connections."""

    def __init__(self, cfg: dict, session_key: str):
        self.host, self.port = cfg["host"], cfg["port"]
        token = "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(32)
        )
        self.head = (
            f"POST /topics/{cfg['topic_id']}/send/ HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\n"
            f"Origin: http://{self.host}:{self.port}\r\n"
            f"Referer: http://{self.host}:{self.port}/topics/{cfg['topic_id']}/\r\n"
            f"Cookie: {cfg['session_cookie']}={session_key}; "
            f"{cfg['csrf_cookie']}={token}\r\n"
            f"X-CSRFToken: {token}\r\n"
            "HX-Request: true\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
        )
        self.idle: list[HttpConnection] = []
        self.all: list[HttpConnection] = []

    async def post(self, text: str) -> int:
        form = urlencode({"body": text, "client_id": uuid.uuid4().hex}).encode()
        raw = (self.head + f"Content-Length: {len(form)}\r\n\r\n").encode() + form
        conn = self.idle.pop() if self.idle else None
        if conn is None:
            conn = HttpConnection(self.host, self.port)
            await conn.open()
            self.all.append(conn)
        status, _body, keep = await conn.request(raw)
        if keep:
            self.idle.append(conn)
        else:
            conn.close()
        return status

    def close(self) -> None:
        for conn in self.all:
            conn.close()


# --- The run --------------------------------------------------------------------


class Run:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.mode = cfg["mode"]
        self.tag = cfg["tag"]
        self.tag_bytes = self.tag.encode()
        self.messages = max(1, round(cfg["rate"] * cfg["duration"]))
        self.sent_at = [0.0] * self.messages
        self.accepted = bytearray(self.messages)
        self.post_latency: list[float] = []
        self.statuses: dict[int, int] = {}
        self.latencies: list[float] = []
        self.received = 0
        self.duplicates = 0
        self.foreign = 0
        self.warm_received = 0
        self.frame_bytes = 0
        self.frames_sized = 0
        self.last_received_at = 0.0
        self.closed_codes: dict[str, int] = {}
        self.sockets = []
        self.server = psutil.Process(cfg["server_pid"])
        self.me = psutil.Process()
        self.samples: list[tuple] = []
        self.control = None
        self.control_acks = 0
        self.stalled: set = set()
        self.stalled_codes: dict[str, int] = {}

    # Sampling of the server (and of ourselves) while the run goes.
    def sample(self) -> tuple:
        s = self.server.cpu_times()
        c = self.me.cpu_times()
        machine = psutil.cpu_times()
        return (
            perf(),
            s.user + s.system,
            c.user + c.system,
            self.server.memory_info().rss,
            self.received,
            sum(machine) - machine.idle - getattr(machine, "iowait", 0.0),
        )

    async def monitor(self) -> None:
        while True:
            self.samples.append(self.sample())
            await asyncio.sleep(SAMPLE_EVERY)

    # Listener sockets.
    def socket_url(self) -> str:
        base = f"ws://{self.cfg['host']}:{self.cfg['port']}"
        if self.mode in ("app", "fanout"):
            return f"{base}/ws/live/?topic={self.cfg['topic_id']}&lang=en"
        return f"{base}/listen"

    async def open_socket(self, index: int, semaphore: asyncio.Semaphore):
        # The first cfg["stalled"] sockets stop reading, as a phone on a bad
        # network does: a small receive buffer and a client queue of one
        # frame, so what the server sends them piles up on its side.
        stalled = index < self.cfg.get("stalled", 0)
        headers = {}
        if self.mode in ("app", "fanout"):
            # More sockets than listener members: each member opens several
            # (as several tabs), within the per-member limit.
            listeners = self.cfg["listeners"]
            key = listeners[index % len(listeners)]
            headers["Cookie"] = f"{self.cfg['session_cookie']}={key}"
        async with semaphore:
            sock = None
            if stalled:
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(
                    sock, (self.cfg["host"], self.cfg["port"])
                )
            ws = await connect(
                self.socket_url(),
                sock=sock,
                origin=f"http://{self.cfg['host']}:{self.cfg['port']}",
                additional_headers=headers,
                compression=None,
                proxy=None,
                open_timeout=60,
                ping_interval=None,
                close_timeout=2,
                max_queue=1 if stalled else 1024,
                max_size=2**22,
            )
            if stalled:
                self.stalled.add(ws)
            return ws

    async def read_stalled(self, ws) -> None:
        """A stalled socket reads again at the end: what its buffers held,
        then the server's close (1013 when it was evicted)."""
        try:
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass
        code = str(ws.close_code)
        self.stalled_codes[code] = self.stalled_codes.get(code, 0) + 1

    async def listen(self, ws) -> None:
        seen = bytearray(self.messages)
        sent_at = self.sent_at
        latencies = self.latencies
        tag = self.tag_bytes
        search = MARK.search
        try:
            while True:
                frame = await ws.recv(decode=False)
                now = perf()
                found = search(frame)
                if found is None:
                    self.foreign += 1
                    continue
                if found[1] != tag:
                    self.warm_received += 1
                    if self.frames_sized < 50:
                        self.frame_bytes += len(frame)
                        self.frames_sized += 1
                    continue
                seq = int(found[2])
                if seen[seq]:
                    self.duplicates += 1
                    continue
                seen[seq] = 1
                latencies.append(now - sent_at[seq])
                self.received += 1
                self.last_received_at = now
        except ConnectionClosed as exc:
            code = str(exc.rcvd.code if exc.rcvd else "none")
            self.closed_codes[code] = self.closed_codes.get(code, 0) + 1

    # Posting.
    def text_for(self, tag: str, seq: int) -> str:
        text = f"bench-{tag}-{seq}-end"
        if self.mode in ("baseline", "fanout"):
            # The same size as the app's frame, so both move the same bytes.
            pad = max(0, self.cfg.get("payload_bytes", 0) - len(text) - 7)
            text = f"<p>{text}</p>" + "x" * pad
        return text

    async def post(self, tag: str, seq: int, posters: list[Poster]) -> None:
        if tag == self.tag:
            self.sent_at[seq] = perf()
        start = perf()
        if self.control is not None:
            await self.control.send(self.text_for(tag, seq))
            status = 201
        else:
            offset = self.cfg.get("poster_offset", 0)
            poster = posters[
                (offset + seq + (0 if tag == self.tag else 7)) % len(posters)
            ]
            try:
                status = await poster.post(self.text_for(tag, seq))
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                log("post failed:", repr(exc))
                status = 0
        elapsed = perf() - start
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if tag == self.tag and status == 201:
            self.accepted[seq] = 1
            self.post_latency.append(elapsed)

    async def read_acks(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in self.control:
                self.control_acks += 1

    async def execute(self) -> dict:
        cfg = self.cfg
        n = cfg["n"] if self.mode != "http" else 0
        posters = (
            [Poster(cfg, key) for key in cfg["posters"]]
            if self.mode in ("app", "http")
            else []
        )
        if self.mode in ("baseline", "fanout"):
            path = (
                "/control"
                if self.mode == "baseline"
                else f"/ws/bench/publish/?topic={cfg['topic_id']}&author=0"
            )
            self.control = await connect(
                f"ws://{cfg['host']}:{cfg['port']}{path}",
                compression=None,
                proxy=None,
                ping_interval=None,
                max_queue=None,
            )
            ack_task = asyncio.create_task(self.read_acks())

        # Warm the server (templates, connections) before taking its memory.
        for i in range(WARMUP_MESSAGES if self.mode != "baseline" else 0):
            await self.post("w", i, posters)
        await asyncio.sleep(0.5)
        rss_before = self.server.memory_info().rss

        # Connect the listeners.
        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)
        started = perf()
        results = await asyncio.gather(
            *(self.open_socket(i, semaphore) for i in range(n)), return_exceptions=True
        )
        failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
        if failed:
            # A browser's page retries (static/js/live.js); so do we, once.
            log(f"{len(failed)} sockets failed to open, e.g. {results[failed[0]]!r}")
            retried = await asyncio.gather(
                *(self.open_socket(i, semaphore) for i in failed),
                return_exceptions=True,
            )
            for i, r in zip(failed, retried, strict=True):
                results[i] = r
        failures = [r for r in results if isinstance(r, BaseException)]
        self.sockets = [r for r in results if not isinstance(r, BaseException)]
        connect_seconds = perf() - started
        if failures:
            log(f"{len(failures)} sockets failed to open twice, e.g. {failures[0]!r}")
        readers = [
            asyncio.create_task(self.listen(ws))
            for ws in self.sockets
            if ws not in self.stalled
        ]
        await asyncio.sleep(SETTLE_SECONDS)
        rss_connected = self.server.memory_info().rss
        open_sockets = sum(1 for ws in self.sockets if ws.state.name == "OPEN")
        log(
            f"{open_sockets}/{n} sockets open in {connect_seconds:.1f} s; "
            f"server RSS {rss_before / 2**20:.1f} -> {rss_connected / 2**20:.1f} MiB"
        )
        # The load generator's own garbage collector must not pause it mid-run.
        gc.collect()
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)

        # Warm the live path itself: every socket receives these (uncounted).
        if n:
            for i in range(WARMUP_MESSAGES):
                await self.post("w", 100 + i, posters)
            deadline = perf() + 15
            while self.warm_received < open_sockets * WARMUP_MESSAGES:
                if perf() > deadline:
                    log(
                        f"warm-up: only {self.warm_received} of "
                        f"{open_sockets * WARMUP_MESSAGES} frames arrived"
                    )
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)

        # The measured run: posts at a fixed rate.
        monitor = asyncio.create_task(self.monitor())
        profiler = self.start_profiler()
        rate = cfg["rate"]
        log(f"posting {self.messages} messages at {rate}/s to {open_sockets} sockets")
        gc_first = self.server_gc()
        wall_start = time.time()
        first = self.sample()
        t0 = first[0]
        tasks = []
        for seq in range(self.messages):
            delay = t0 + seq / rate - perf()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.post(self.tag, seq, posters)))
        posting_seconds = perf() - t0
        done, pending = await asyncio.wait(tasks, timeout=cfg["drain_timeout"])
        for task in pending:
            task.cancel()
        posts_done_at = perf()
        accepted = sum(self.accepted)
        stalled_open = sum(1 for ws in self.stalled if ws.state.name == "OPEN")
        expected = accepted * (open_sockets - stalled_open)
        # Drain: until everything arrived, or nothing arrives for a while.
        deadline = posts_done_at + cfg["drain_timeout"]
        last_count, last_progress = -1, perf()
        while self.received < expected and perf() < deadline:
            if self.received != last_count:
                last_count, last_progress = self.received, perf()
            elif perf() - last_progress > DRAIN_STALL_SECONDS:
                break
            await asyncio.sleep(0.05)
        # Stalled sockets read again: how each was closed (1013: evicted).
        if self.stalled:
            await asyncio.wait(
                [asyncio.create_task(self.read_stalled(ws)) for ws in self.stalled],
                timeout=15,
            )
        monitor.cancel()
        self.samples.append(self.sample())
        await asyncio.sleep(0.3)  # the server writes its GC totals every 0.2 s
        gc_last = self.server_gc()
        if profiler is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=30)

        # The window: from the first post to the last frame (or the last post).
        end_at = max(self.last_received_at, posts_done_at if not n else 0.0)
        if not end_at:
            end_at = posts_done_at
        end = next((s for s in self.samples if s[0] >= end_at), self.samples[-1])
        window = max(end[0] - t0, 1e-9)
        server_cpu = (end[1] - first[1]) / window * 100
        client_cpu = (end[2] - first[2]) / window * 100
        # Everything else on the machine: PostgreSQL and Redis doing the app's
        # work, and anything unrelated that makes the figures noisy.
        other_cpu = (end[5] - first[5]) / window * 100 - server_cpu - client_cpu
        peak_rss = max(s[3] for s in self.samples)
        gc_pct = gc_max_pause = None
        if gc_first and gc_last:
            # The drain may end after the window; the share is of the window.
            gc_pct = round((gc_last["seconds"] - gc_first["seconds"]) / window * 100, 1)
            wall_end = wall_start + window
            pauses = [
                pause
                for ended, pause, _generation in gc_last["long_pauses"]
                if wall_start <= ended <= wall_end
            ]
            gc_max_pause = ms(max(pauses, default=0.0))

        self.latencies.sort()
        self.post_latency.sort()
        result = {
            "mode": self.mode,
            "n": n,
            "rate": rate,
            "messages": self.messages,
            "accepted": accepted,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "sockets_open": open_sockets,
            "socket_failures": len(failures),
            "socket_retries": len(failed),
            "connect_seconds": round(connect_seconds, 2),
            "expected": expected,
            "received": self.received,
            "lost": expected - self.received,
            "duplicates": self.duplicates,
            "closed_codes": self.closed_codes,
            "p50_ms": ms(percentile(self.latencies, 0.50)),
            "p99_ms": ms(percentile(self.latencies, 0.99)),
            "max_ms": ms(self.latencies[-1] if self.latencies else None),
            "deliveries_per_s": round(self.received / window, 1) if n else None,
            "window_s": round(window, 2),
            "posting_s": round(posting_seconds, 2),
            "achieved_post_rate": round(self.messages / max(posting_seconds, 1e-9), 2),
            "post_p50_ms": ms(percentile(self.post_latency, 0.50)),
            "post_p99_ms": ms(percentile(self.post_latency, 0.99)),
            "post_max_ms": ms(self.post_latency[-1] if self.post_latency else None),
            "cpu_pct": round(server_cpu, 1),
            "client_cpu_pct": round(client_cpu, 1),
            "other_cpu_pct": round(other_cpu, 1),
            "gc_pct": gc_pct,
            "gc_max_pause_ms": gc_max_pause,
            "gc_collections": (
                [
                    b - a
                    for a, b in zip(
                        gc_first["collections"], gc_last["collections"], strict=True
                    )
                ]
                if gc_first and gc_last
                else None
            ),
            "rss_before_mb": round(rss_before / 2**20, 1),
            "rss_connected_mb": round(rss_connected / 2**20, 1),
            "rss_peak_mb": round(peak_rss / 2**20, 1),
            "kb_per_socket": (
                round((rss_connected - rss_before) / open_sockets / 1024, 1)
                if open_sockets
                else None
            ),
            "stalled": len(self.stalled),
            "evictions": await self.evictions(),
            "stalled_close_codes": self.stalled_codes,
            "rss_after_mb": round(self.samples[-1][3] / 2**20, 1),
            "frame_bytes": (
                round(self.frame_bytes / self.frames_sized)
                if self.frames_sized
                else None
            ),
        }

        # Close everything, bounded.
        for ws in self.sockets:
            with contextlib.suppress(Exception):
                ws.transport.abort()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        if self.control is not None:
            await self.control.close()
            ack_task.cancel()
        for poster in posters:
            poster.close()
        return result

    async def evictions(self) -> int | None:
        """The server's count of sockets closed for falling behind, from its
        /metrics (bench/run.py gives both sides the token)."""
        if self.mode == "baseline" or not self.cfg.get("metrics_token"):
            return None
        conn = HttpConnection(self.cfg["host"], self.cfg["port"])
        try:
            await conn.open()
            status, body, _keep = await conn.request(
                (
                    f"GET /metrics HTTP/1.1\r\nHost: {self.cfg['host']}:"
                    f"{self.cfg['port']}\r\nAuthorization: Bearer "
                    f"{self.cfg['metrics_token']}\r\nConnection: close\r\n\r\n"
                ).encode()
            )
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            log("metrics not read:", repr(exc))
            return None
        finally:
            conn.close()
        if status != 200:
            log(f"metrics answered {status}")
            return None
        for line in body.decode().splitlines():
            if line.startswith("enishi_live_evictions_total"):
                return int(float(line.rsplit(" ", 1)[1]))
        return None

    def server_gc(self) -> dict | None:
        """The server's running GC totals (bench.settings), when it keeps them."""
        path = self.cfg.get("gc_log")
        if not path:
            return None
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def start_profiler(self):
        path = self.cfg.get("profile_path")
        if not path:
            return None
        duration = max(2, int(self.cfg["duration"]))
        log(f"py-spy recording the server for {duration} s into {path}")
        return subprocess.Popen(
            [
                self.cfg["py_spy"],
                "record",
                "--pid",
                str(self.cfg["server_pid"]),
                "--duration",
                str(duration),
                "--rate",
                "97",
                "--nonblocking",
                # Only the thread holding the GIL: where the one core's
                # Python time goes, not threads waiting on PostgreSQL.
                "--gil",
                "--format",
                "raw",
                "--output",
                path,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


async def amain(cfg: dict) -> dict:
    return await Run(cfg).execute()


def main() -> None:
    config_path, result_path = sys.argv[1], sys.argv[2]
    raise_open_files_limit()
    with open(config_path) as f:
        cfg = json.load(f)
    result = asyncio.run(amain(cfg))
    with open(result_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
