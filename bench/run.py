"""`make bench`: the live path under load, against a bare websockets ceiling.

A benchmark, not a test: it reports figures and how they compare with the
targets of issue 3, and asserts nothing. Steps:

1. PostgreSQL and Redis from DATABASE_URL / REDIS_URL (defaults
   postgres://postgres@127.0.0.1:5432/enishi_bench and
   redis://127.0.0.1:6379/2) when they answer; otherwise the embedded default
   (SQLite + in-memory layer), said so. The bench database is always a fresh
   one of its own (DATABASE_URL's name + `_bench`, never the app's), created,
   migrated, and dropped at the end.
2. Listener and poster members, one community and one topic (bench.seed).
3. Each run starts a fresh Daphne (`daphne project.asgi:application`, DEBUG
   off) pinned to core 0; the load generator (bench.client) is pinned to core
   1. Then the same fan-out against bench.baseline_server, also on core 0.
4. A summary, then ONE JSON line (the last line of output).

Options: --scale 0.5 shortens every run; --only 1000@20 picks runs;
--profile records the server with py-spy in every app run and prints where
the time goes; --wait-quiet 300 waits (bounded) for an idle machine before
each run. One bench at a time per machine (a lock file): two would share the
server core and the bench database.
"""

import argparse
import collections
import contextlib
import datetime
import json
import os
import platform
import resource
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVER_CORE, CLIENT_CORE = 0, 1
LISTENERS = 1000
# The send view allows 10 messages per 10 s per member. Rotating through 50
# posters at 20 messages/s, each posts every 2.5 s (4 per window), across
# run boundaries too.
POSTERS = 50
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/enishi_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/2"

# Each run: N listeners in one room, messages per second, seconds. "post":
# real htmx POSTs (persist, then broadcast); "fanout": the bench's publish
# socket (bench/asgi.py) publishes into the layer at rates beyond what the
# POST path offers, for the live path's own saturation. "layer": "memory" runs
# the embedded default's in-memory layer instead of Redis; "server" picks the
# ASGI server. A saturation row compares with the bare server's own
# saturation (the ceiling); the others with the bare server at the same load.
RUNS = [
    # The live path alone (publish to frame), at issue 13's latency loads.
    {"n": 100, "rate": 20, "duration": 15, "p99_target_ms": 20, "driver": "fanout"},
    {"n": 1000, "rate": 4, "duration": 15, "p99_target_ms": 50, "driver": "fanout"},
    # End to end: a real POST (saved, then broadcast) to the frame.
    {"n": 100, "rate": 20, "duration": 15, "p99_target_ms": 50},
    {"n": 1000, "rate": 4, "duration": 15, "p99_target_ms": 250},
    # Saturation, against the bare server's own at the same offered rate.
    {"n": 1000, "rate": 200, "duration": 3, "saturation": True, "driver": "fanout"},
    {
        "n": 1000,
        "rate": 200,
        "duration": 3,
        "saturation": True,
        "driver": "fanout",
        "server": "uvicorn",
        "ratio_target": 0.8,
    },
    {
        "n": 1000,
        "rate": 200,
        "duration": 3,
        "saturation": True,
        "driver": "fanout",
        "layer": "memory",
    },
    # 50 of 1,000 sockets stop reading (32 KB frames, so their buffers fill in
    # seconds): evicted with 1013, the server's memory flat, and the other
    # 950's p99 against the same run with every socket reading.
    {
        "n": 1000,
        "rate": 10,
        "duration": 15,
        "driver": "fanout",
        "payload_bytes": 32768,
        "p99_target_ms": 250,
    },
    {
        "n": 1000,
        "rate": 10,
        "duration": 15,
        "driver": "fanout",
        "payload_bytes": 32768,
        "stalled": 50,
        "p99_target_ms": 250,
    },
    # Memory per idle socket and a storm of opens, in one process.
    {"n": 10000, "rate": 1, "duration": 3, "idle": True, "kb_target": 30},
]
RATIO_TARGET = 0.35
METRICS_TOKEN = secrets.token_urlsafe(24)
OPEN_1000_TARGET_S = 1.5
OPEN_10000_TARGET_S = 15
HTTP_RUN = {"rate": 20, "duration": 10, "p99_target_ms": 30}
# The baseline's own saturation: offered far beyond what it can deliver.
BASELINE_CEILING = {"n": 1000, "rate": 200, "duration": 3}
QUIET_PCT = 10


# Frames every sample passes through (process start, event loop, thread pool).
ROOT_FRAMES = (
    "_run_module_as_main",
    "_run_code",
    "<module>",
    "CommandLineInterface.",
    "Server.run ",
    "AsyncioSelectorReactor.run",
    "BaseEventLoop.run_forever",
    "BaseEventLoop._run_once",
    "Handle._run",
    "Thread._bootstrap",
    "Thread.run",
    "_worker",
    "_WorkItem.run",
)


def say(*args) -> None:
    print(*args, flush=True)


def raise_open_files_limit() -> None:
    """As many open files as allowed: a thousand sockets on each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pinned_to(core: int | None):
    def preexec() -> None:
        raise_open_files_limit()
        if core is not None:
            os.sched_setaffinity(0, {core})

    return preexec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=2) as s,
        ):
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            s.settimeout(10)
            if s.recv(12).startswith(b"HTTP/1."):
                return
        time.sleep(0.2)
    raise RuntimeError("server did not answer in time")


def wait_for_line(proc: subprocess.Popen, log_path: Path, text: str, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if text in log_path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server did not print {text!r} in time")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --- Services -------------------------------------------------------------------


def bench_database_url(url: str) -> str:
    """The same server, but a database of the bench's own (never the app's)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "enishi"
    if not name.endswith("_bench"):
        name += "_bench"
    return urlunsplit(parts._replace(path="/" + name))


def postgres_reachable(url: str) -> str | None:
    """The server version, or None when it does not answer."""
    try:
        import psycopg

        maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
        with psycopg.connect(maintenance, connect_timeout=3, autocommit=True) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception:
        return None


def recreate_postgres_database(url: str, *, create: bool) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, connect_timeout=5, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def redis_reachable(url: str) -> str | None:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        try:
            return client.info("server")["redis_version"]
        finally:
            client.close()
    except Exception:
        return None


def choose_services(tmp: Path) -> dict:
    services = {}
    wanted_db = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if wanted_db.startswith(("postgres://", "postgresql://", "pgsql://")):
        db_url = bench_database_url(wanted_db)
        version = postgres_reachable(db_url)
    else:
        db_url, version = None, None
    if version:
        services.update(database="postgresql", database_version=version, db_url=db_url)
    else:
        say(
            (
                f"PostgreSQL at {wanted_db} does not answer"
                if db_url
                else f"DATABASE_URL ({wanted_db}) is not PostgreSQL"
            )
            + ": using the embedded default (SQLite, a fresh file) instead."
        )
        services.update(
            database="sqlite",
            database_version=None,
            db_url=f"sqlite:///{tmp / 'bench.sqlite3'}",
        )
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    redis_version = redis_reachable(redis_url)
    if redis_version:
        services.update(
            layer="RedisPubSubChannelLayer",
            redis_url=redis_url,
            redis_version=redis_version,
        )
    else:
        say(
            f"Redis at {redis_url} does not answer: using the embedded default "
            "(InMemoryChannelLayer) instead."
        )
        services.update(layer="InMemoryChannelLayer", redis_url="", redis_version=None)
    return services


def django_env(services: dict) -> dict:
    """Production-like settings (DEBUG off) served over plain HTTP on loopback."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DJANGO_DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        # The load generator reads the server's /metrics (evictions).
        METRICS_TOKEN=METRICS_TOKEN,
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        LOG_LEVEL="WARNING",
        CACHE_KEY_PREFIX="enishi-bench",
        DATABASE_URL=services["db_url"],
        REDIS_URL=services["redis_url"],
        PYTHONUNBUFFERED="1",
    )
    return env


def cleanup_redis_keys(url: str) -> None:
    """Only the bench's own cache keys; nothing else on that Redis is touched."""
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        keys = list(client.scan_iter(match="enishi-bench*", count=1000))[:100_000]
        if keys:
            client.delete(*keys)
        client.close()


class ConnectionSampler(threading.Thread):
    """The most PostgreSQL connections the bench database had at once (the app
    must keep them bounded under ASGI: DESIGN.md, known traps)."""

    def __init__(self, db_url: str):
        super().__init__(daemon=True)
        parts = urlsplit(db_url)
        self.name_ = parts.path.lstrip("/")
        self.maintenance = urlunsplit(parts._replace(path="/postgres"))
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        import psycopg

        with (
            contextlib.suppress(Exception),
            psycopg.connect(
                self.maintenance, connect_timeout=5, autocommit=True
            ) as conn,
        ):
            while not self.done.wait(0.25):
                (count,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                    (self.name_,),
                ).fetchone()
                self.peak = max(self.peak, count)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)


def server_errors(text: str) -> tuple[list[str], collections.Counter]:
    """A server log's first traceback (60 lines at most) and how many times
    each other line occurs (access lines and traceback bodies left out)."""
    lines = [line for line in text.splitlines() if not line.startswith("127.")]
    kinds = collections.Counter(
        line for line in lines if line and not line.startswith((" ", "Trace"))
    )
    start = next((i for i, line in enumerate(lines) if "Traceback" in line), None)
    traceback = lines[start : start + 60] if start is not None else []
    return traceback, kinds


# --- Machine ------------------------------------------------------------------


def machine_info(services: dict, pinned: bool, busy_before: float) -> dict:
    model = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in (
        "Django",
        "channels",
        "channels-redis",
        "daphne",
        "Twisted",
        "autobahn",
        "websockets",
        "redis",
        "psycopg",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist.lower()] = metadata.version(dist)
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "database": services["database"],
        "postgresql": services.get("database_version"),
        "channel_layer": services["layer"],
        "redis": services.get("redis_version"),
        "server_core": SERVER_CORE if pinned else None,
        "client_core": CLIENT_CORE if pinned else None,
        "django_debug": False,
        "busy_pct_before": busy_before,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


# --- Runs -----------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="enishi-bench-"))
        self.pinned = (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
        self.server_core = SERVER_CORE if self.pinned else None
        self.client_core = CLIENT_CORE if self.pinned else None
        self.server: subprocess.Popen | None = None
        self.client: subprocess.Popen | None = None
        self.services: dict = {}
        self.seed: dict = {}
        self.poster_offset = 0
        self.counter = 0
        self.busy_before = 0.0
        self.py_spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")

    def manage(self, *argv: str, timeout: float = 300) -> None:
        subprocess.run(
            [PYTHON, "manage.py", *argv],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
        )

    def prepare(self) -> None:
        # Another process busy on the same cores skews every figure: say so.
        self.busy_before = psutil.cpu_percent(interval=2)
        if self.busy_before > 20:
            say(
                f"warning: the machine is {self.busy_before:.0f}% busy before the "
                "bench starts; the figures will be noisy"
            )
        self.services = choose_services(self.tmp)
        self.env = django_env(self.services)
        say(
            f"database: {self.services['database']} ({self.services['db_url']}), "
            f"layer: {self.services['layer']} {self.services['redis_url']}"
        )
        if self.services["database"] == "postgresql":
            recreate_postgres_database(self.services["db_url"], create=True)
        say("migrating the fresh bench database ...")
        self.manage("migrate", "--noinput", "-v0")
        say(f"seeding {LISTENERS} listeners and {POSTERS} posters ...")
        out = self.tmp / "seed.json"
        subprocess.run(
            [PYTHON, "-m", "bench.seed", str(LISTENERS), str(POSTERS), str(out)],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=300,
        )
        self.seed = json.loads(out.read_text())

    def server_argv(self, server: str, port: int) -> list[str]:
        """How each server is started: the Procfile's command for Daphne
        (less --websocket_connect_timeout, which only matters for storms of
        reconnects) and the Procfile's commented uvicorn line for uvicorn
        (what `SERVER=uvicorn make run` runs), both on bench/asgi.py (the app
        plus the bench's publish socket)."""
        if server == "daphne":
            return ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        return [
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *procfile_uvicorn_options(),
            "--log-level",
            "warning",
            "--no-access-log",
        ]

    def start_server(
        self, server: str = "daphne", layer: str | None = None
    ) -> tuple[subprocess.Popen, int, str]:
        port = free_port()
        gc_log = str(self.tmp / f"gc-{port}.json")
        log = open(self.tmp / f"server-{port}.log", "w")  # noqa: SIM115
        env = {**self.env, "BENCH_GC_LOG": gc_log}
        if layer == "memory":
            # The embedded default's layer (and cache): no REDIS_URL.
            env["REDIS_URL"] = ""
        self.server = subprocess.Popen(
            [PYTHON, *self.server_argv(server, port), "bench.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=pinned_to(self.server_core),
        )
        log.close()
        wait_for_http(port, self.server)
        return self.server, port, gc_log

    def start_baseline(self) -> tuple[subprocess.Popen, int]:
        port = free_port()
        log_path = self.tmp / f"baseline-{port}.log"
        with open(log_path, "w") as log:
            self.server = subprocess.Popen(
                [PYTHON, "-m", "bench.baseline_server", str(port)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=pinned_to(self.server_core),
            )
        wait_for_line(self.server, log_path, "ready")
        return self.server, port

    def drive(
        self,
        mode: str,
        server,
        port: int,
        *,
        n: int,
        rate: float,
        duration: float,
        **extra,
    ) -> dict:
        self.counter += 1
        tag = f"r{self.counter}"
        duration = max(1.0, duration * self.args.scale)
        cfg = {
            "mode": mode,
            "tag": tag,
            "host": "127.0.0.1",
            "port": port,
            "server_pid": server.pid,
            "n": n,
            "rate": rate,
            "duration": duration,
            "drain_timeout": 60.0,
            "poster_offset": self.poster_offset,
            "metrics_token": METRICS_TOKEN,
            **self.seed,
            **extra,
        }
        cfg["listeners"] = self.seed.get("listeners", [])[:n]
        config_path = self.tmp / f"client-{tag}.json"
        result_path = self.tmp / f"result-{tag}.json"
        config_path.write_text(json.dumps(cfg))
        self.wait_for_quiet()
        self.client = subprocess.Popen(
            [PYTHON, "-m", "bench.client", str(config_path), str(result_path)],
            cwd=ROOT,
            preexec_fn=pinned_to(self.client_core),
        )
        sampler = None
        if mode != "baseline" and self.services["database"] == "postgresql":
            sampler = ConnectionSampler(self.services["db_url"])
            sampler.start()
        try:
            self.client.wait(timeout=duration + 240)
        finally:
            stop(self.client)
            if sampler is not None:
                sampler.stop()
        if mode != "baseline":
            # Continue the posters' rotation where this run left it.
            self.poster_offset += round(rate * duration) + 10
        if self.client.returncode != 0:
            raise RuntimeError(f"load generator failed ({self.client.returncode})")
        result = json.loads(result_path.read_text())
        result["pg_connections_peak"] = sampler.peak if sampler is not None else None
        return result

    def wait_for_quiet(self) -> None:
        """On a shared machine, wait (bounded) until nothing else is busy."""
        if not self.args.wait_quiet:
            return
        deadline = time.monotonic() + self.args.wait_quiet
        while (busy := psutil.cpu_percent(interval=2)) > QUIET_PCT:
            if time.monotonic() > deadline:
                say(f"  (the machine is still {busy:.0f}% busy: going ahead)")
                return
        return

    def app_run(
        self, mode: str, server: str = "daphne", layer: str | None = None, **kwargs
    ) -> dict:
        process, port, gc_log = self.start_server(server, layer)
        try:
            if self.pinned:
                assert psutil.Process(process.pid).cpu_affinity() == [SERVER_CORE]
            result = self.drive(mode, process, port, gc_log=gc_log, **kwargs)
        finally:
            stop(process)
        if any(not 200 <= int(status) < 300 for status in result["statuses"]):
            self.show_server_errors(port)
        return result

    def show_server_errors(self, port: int) -> None:
        """A refused or failed post: show what the server said about it (its
        first traceback in full, and how many errors of each kind)."""
        text = (self.tmp / f"server-{port}.log").read_text(errors="replace")
        traceback, kinds = server_errors(text)
        say("  the server's log (access lines left out):")
        for line in traceback:
            say(f"    | {line}")
        for line, count in kinds.most_common(8):
            say(f"    {count:5d} x {line[:160]}")

    def baseline_run(self, **kwargs) -> dict:
        server, port = self.start_baseline()
        try:
            return self.drive("baseline", server, port, **kwargs)
        finally:
            stop(server)

    def execute(self) -> dict:
        self.prepare()
        say("")
        say(
            f"HTTP post-to-saved, no one listening: {HTTP_RUN['rate']} posts/s for "
            f"{HTTP_RUN['duration'] * self.args.scale:.0f} s"
        )
        http = self.app_run(
            "http",
            n=0,
            rate=HTTP_RUN["rate"],
            duration=HTTP_RUN["duration"],
            **self.profiling("http"),
        )
        self.print_profile("http")
        say(
            f"  post p50 {http['post_p50_ms']} ms, p99 {http['post_p99_ms']} ms, "
            f"max {http['post_max_ms']} ms, statuses {http['statuses']}"
        )
        runs = []
        frame_bytes = None
        ceiling = None
        for spec in RUNS:
            if self.args.only and run_name(spec) not in self.args.only:
                continue
            n, rate, duration = spec["n"], spec["rate"], spec["duration"]
            server = spec.get("server", "daphne")
            say("")
            say(
                f"{run_name(spec)}: N={n} at {rate} messages/s for "
                f"{duration * self.args.scale:.0f} s, {describe(spec)}"
            )
            name = run_name(spec).replace("@", "-r").replace("/", "-")
            extra = {
                key: spec[key] for key in ("stalled", "payload_bytes") if key in spec
            }
            ours = self.app_run(
                "fanout" if spec.get("driver") == "fanout" else "app",
                server=server,
                layer=spec.get("layer"),
                n=n,
                rate=rate,
                duration=duration,
                **extra,
                **self.profiling(name),
            )
            self.print_profile(name)
            if "payload_bytes" not in spec:
                frame_bytes = ours["frame_bytes"] or frame_bytes or 1200
            self.report("  enishi  ", ours)
            if spec.get("saturation"):
                if ceiling is None:
                    say(f"  baseline ceiling: N={n} at {rate} messages/s")
                    ceiling = self.baseline_run(
                        n=n, rate=rate, duration=duration, payload_bytes=frame_bytes
                    )
                    self.report("  ceiling ", ceiling)
                base = ceiling
            else:
                base = self.baseline_run(
                    n=n,
                    rate=rate,
                    duration=duration,
                    payload_bytes=spec.get("payload_bytes", frame_bytes),
                )
                self.report("  baseline", base)
            runs.append(
                self.row(spec, ours, base, ceiling if spec.get("saturation") else None)
            )
        return {"http": http, "runs": runs}

    @staticmethod
    def report(label: str, r: dict) -> None:
        gc_part = (
            f"GC {r['gc_pct']}% (longest {r['gc_max_pause_ms']} ms)  "
            if r["gc_pct"] is not None
            else ""
        )
        say(
            f"{label} p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  "
            f"{r['deliveries_per_s']} deliveries/s  lost {r['lost']}/{r['expected']}  "
            f"server CPU {r['cpu_pct']}%  client CPU {r['client_cpu_pct']}%  "
            f"rest of machine {r['other_cpu_pct']}%  {gc_part}"
            f"{r['kb_per_socket']} KB/socket  posts {r['achieved_post_rate']}/s "
            f"(p99 {r['post_p99_ms']} ms, statuses {r['statuses']})"
            + (
                f"  PostgreSQL connections {r['pg_connections_peak']}"
                if r.get("pg_connections_peak") is not None
                else ""
            )
        )
        if r["socket_failures"] or r["closed_codes"] or r["duplicates"]:
            say(
                f"{label} socket failures {r['socket_failures']}, closed "
                f"{r['closed_codes']}, duplicates {r['duplicates']}"
            )

    @staticmethod
    def row(spec: dict, ours: dict, base: dict, ceiling: dict | None) -> dict:
        # At saturation the comparison is with the baseline's own saturation
        # (its ceiling); below it, with the baseline under the same load.
        reference = ceiling or base
        row = {
            "run": run_name(spec),
            "n": spec["n"],
            "rate": spec["rate"],
            "driver": spec.get("driver", "post"),
            "server": spec.get("server", "daphne"),
            "layer": spec.get("layer", "default"),
            "idle": bool(spec.get("idle")),
            "open_seconds": ours["connect_seconds"],
            "stalled": ours.get("stalled", 0),
            "evictions": ours.get("evictions"),
            "stalled_close_codes": ours.get("stalled_close_codes", {}),
            "rss_connected_mb": ours["rss_connected_mb"],
            "socket_failures": ours["socket_failures"],
            "p50_ms": ours["p50_ms"],
            "p99_ms": ours["p99_ms"],
            "deliveries_per_s": ours["deliveries_per_s"],
            "lost": ours["lost"],
            "kb_per_socket": ours["kb_per_socket"],
            "cpu_pct": ours["cpu_pct"],
            "baseline_deliveries_per_s": reference["deliveries_per_s"],
            "baseline_p99_ms": base["p99_ms"],
            "deliveries_ratio": ratio(
                ours["deliveries_per_s"], reference["deliveries_per_s"]
            ),
            "p99_ratio": ratio(ours["p99_ms"], base["p99_ms"]),
            "saturation": bool(spec.get("saturation")),
            "messages": ours["accepted"],
            "expected": ours["expected"],
            "duplicates": ours["duplicates"],
            "max_ms": ours["max_ms"],
            "post_p99_ms": ours["post_p99_ms"],
            "post_statuses": ours["statuses"],
            "achieved_post_rate": ours["achieved_post_rate"],
            "rss_peak_mb": ours["rss_peak_mb"],
            "client_cpu_pct": ours["client_cpu_pct"],
            "other_cpu_pct": ours["other_cpu_pct"],
            "pg_connections_peak": ours["pg_connections_peak"],
            "gc_pct": ours["gc_pct"],
            "gc_max_pause_ms": ours["gc_max_pause_ms"],
            "frame_bytes": ours["frame_bytes"],
            "baseline_same_load": {
                "deliveries_per_s": base["deliveries_per_s"],
                "p50_ms": base["p50_ms"],
                "p99_ms": base["p99_ms"],
                "lost": base["lost"],
                "kb_per_socket": base["kb_per_socket"],
                "cpu_pct": base["cpu_pct"],
            },
        }
        if ceiling is not None:
            row["baseline_ceiling"] = {
                "rate": ceiling["rate"],
                "deliveries_per_s": ceiling["deliveries_per_s"],
                "p99_ms": ceiling["p99_ms"],
                "lost": ceiling["lost"],
                "cpu_pct": ceiling["cpu_pct"],
                "client_cpu_pct": ceiling["client_cpu_pct"],
            }
        if "p99_target_ms" in spec:
            row["target"] = {"lost": 0, "p99_ms": spec["p99_target_ms"]}
        if spec.get("saturation"):
            row["target"] = {"deliveries_ratio": spec.get("ratio_target", RATIO_TARGET)}
        if "kb_target" in spec:
            row["target"] = {
                "kb_per_socket": spec["kb_target"],
                "open_seconds": OPEN_10000_TARGET_S,
            }
        return row

    def profiling(self, name: str) -> dict:
        if not self.args.profile:
            return {}
        return {
            "profile_path": str(self.tmp / f"profile-{name}.txt"),
            "py_spy": self.py_spy,
        }

    def print_profile(self, name: str) -> None:
        """Top functions by own samples and by inclusive samples (py-spy raw)."""
        if not self.args.profile:
            return
        path = self.tmp / f"profile-{name}.txt"
        if not path.exists():
            say(f"  (no profile at {path}: is py-spy installed?)")
            return
        own, inclusive = collections.Counter(), collections.Counter()
        total = 0
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            count = int(count)
            total += count
            frames = stack.split(";")
            own[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
        keep = self.tmp.parent / f"enishi-bench-profile-{name}.txt"
        shutil.copy(path, keep)
        say(f"  py-spy: {total} samples (raw stacks kept in {keep})")
        say("  top own time:")
        for frame, count in own.most_common(15):
            say(f"    {count / total:6.1%}  {frame}")
        say("  top inclusive time (below the event loop and the thread pool):")
        shown = 0
        for frame, count in inclusive.most_common():
            if frame.startswith(ROOT_FRAMES):
                continue
            say(f"    {count / total:6.1%}  {frame}")
            shown += 1
            if shown == 25:
                break

    def cleanup(self) -> None:
        stop(self.client)
        stop(self.server)
        if self.services.get("database") == "postgresql":
            try:
                recreate_postgres_database(self.services["db_url"], create=False)
            except Exception as exc:
                say(f"could not drop the bench database: {exc!r}")
        if self.services.get("redis_url"):
            cleanup_redis_keys(self.services["redis_url"])
        shutil.rmtree(self.tmp, ignore_errors=True)


def procfile_uvicorn_options() -> list[str]:
    """The options of the Procfile's `# web: uvicorn ...` line, without the
    address, the port and the application."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("# web: uvicorn "):
            words = shlex.split(line.removeprefix("#"))[2:]
            break
    else:
        raise RuntimeError("no `# web: uvicorn ...` line in the Procfile")
    options, rest = [], iter(words)
    for word in rest:
        if word in ("--host", "--port"):
            next(rest)
        elif word != "project.asgi:application":
            options.append(word)
    return options


def run_name(spec: dict) -> str:
    """How --only names a run: N@RATE, then what differs from the default."""
    parts = [f"{spec['n']}@{spec['rate']}"]
    if spec.get("driver") == "fanout":
        parts.append("fanout")
    if spec.get("payload_bytes"):
        parts.append(f"{spec['payload_bytes'] // 1024}KB")
    if spec.get("stalled"):
        parts.append(f"{spec['stalled']}stalled")
    if spec.get("layer"):
        parts.append(spec["layer"])
    if spec.get("server", "daphne") != "daphne":
        parts.append(spec["server"])
    return "/".join(parts)


def describe(spec: dict) -> str:
    driver = (
        "published by the bench's socket"
        if spec.get("driver") == "fanout"
        else "real POSTs"
    )
    layer = "in-memory layer" if spec.get("layer") == "memory" else "default layer"
    return f"{driver}, {spec.get('server', 'daphne')}, {layer}"


def ratio(a, b) -> float | None:
    if a is None or not b:
        return None
    return round(a / b, 3)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def summary(machine: dict, result: dict) -> None:
    say("")
    say(
        f"Machine: {machine['cpu']}, {machine['cores']} cores, Python "
        f"{machine['python']}, {machine['database']} + {machine['channel_layer']}"
    )
    say("Targets (reported, not asserted):")
    for row in result["runs"]:
        name = row["run"]
        if row["saturation"]:
            wanted = row["target"]["deliveries_ratio"]
            ratio_ok = (row["deliveries_ratio"] or 0) >= wanted
            say(
                f"  {name} saturation: {row['deliveries_per_s']} deliveries/s = "
                f"{row['deliveries_ratio']} of the bare server's "
                f"{row['baseline_deliveries_per_s']} (target >= {wanted}): "
                f"{verdict(ratio_ok)}; lost {row['lost']}"
            )
        elif row["idle"]:
            kb, kb_target = row["kb_per_socket"], row["target"]["kb_per_socket"]
            kb_ok = None if kb is None else kb <= kb_target
            say(
                f"  {name}: {row['n']} sockets opened in {row['open_seconds']} s "
                f"(target <= {OPEN_10000_TARGET_S} s): "
                f"{verdict(row['open_seconds'] <= OPEN_10000_TARGET_S)}; "
                f"{kb} KB per idle socket (target <= {kb_target}): {verdict(kb_ok)}"
                f"; lost {row['lost']}, failed to open {row['socket_failures']}"
            )
        else:
            target = row["target"]
            ok = row["lost"] == 0 and (row["p99_ms"] or 1e9) <= target["p99_ms"]
            if row["stalled"]:
                say(
                    f"  {name}: {row['stalled']} of {row['n']} stopped reading: "
                    f"{row['evictions']} evicted (/metrics), their close seen as "
                    f"{row['stalled_close_codes']}; server RSS "
                    f"{row['rss_connected_mb']} MB once connected, peak "
                    f"{row['rss_peak_mb']} MB"
                )
            say(
                f"  {name}: lost {row['lost']}, p99 {row['p99_ms']} ms (target 0 "
                f"lost, p99 <= {target['p99_ms']} ms): {verdict(ok)}"
            )
        if row["n"] == 1000:
            say(
                f"    {row['n']} sockets opened in {row['open_seconds']} s (target <= "
                f"{OPEN_1000_TARGET_S} s): "
                f"{verdict(row['open_seconds'] <= OPEN_1000_TARGET_S)}"
            )
    sat = {
        r["layer"]: r
        for r in result["runs"]
        if r["saturation"] and r["server"] == "daphne"
    }
    if "memory" in sat and "default" in sat:
        share = ratio(
            sat["memory"]["deliveries_per_s"], sat["default"]["deliveries_per_s"]
        )
        say(
            f"  in-memory layer saturation: {share} of the Redis path's (target "
            f"within 20%): {verdict(share is not None and share >= 0.8)}"
        )
    p99 = result["http"]["post_p99_ms"]
    say(
        f"  HTTP post-to-saved p99, no one listening: {p99} ms "
        f"(target < {HTTP_RUN['p99_target_ms']}): "
        f"{verdict(None if p99 is None else p99 < HTTP_RUN['p99_target_ms'])}"
    )


LOCK_PATH = Path(tempfile.gettempdir()) / "enishi-bench.lock"
LOCK_WAIT_SECONDS = 900


def hold_machine_lock():
    """One bench per machine: a second one would share core 0 with the first
    and drop its database. Waits (bounded) for the other to finish."""
    import fcntl

    handle = open(LOCK_PATH, "a+")  # noqa: SIM115
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return handle
    except BlockingIOError:
        say("another make bench is running on this machine; waiting for it ...")
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(2)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            continue
    raise SystemExit("the other bench did not finish in time; try again later")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="run-length factor")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the server in each app run"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each run, wait up to this long for the machine to be idle",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="N@RATE",
        help="only this run (repeatable), e.g. --only 1000@20",
    )
    args = parser.parse_args()
    raise_open_files_limit()
    lock = hold_machine_lock()  # noqa: F841 (held until the process exits)
    bench = Bench(args)
    if bench.pinned:
        # Core 0 is the server's alone: this process and its helpers stay off it.
        os.sched_setaffinity(0, {CLIENT_CORE})

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        result = bench.execute()
    finally:
        bench.cleanup()
    machine = machine_info(bench.services, bench.pinned, bench.busy_before)
    summary(machine, result)
    http = result["http"]
    print(
        json.dumps(
            {
                "machine": machine,
                "runs": result["runs"],
                "http_post_to_saved": {
                    "p50_ms": http["post_p50_ms"],
                    "p99_ms": http["post_p99_ms"],
                    "max_ms": http["post_max_ms"],
                    "posts": http["accepted"],
                    "rate": http["rate"],
                    "statuses": http["statuses"],
                    "cpu_pct": http["cpu_pct"],
                    "pg_connections_peak": http["pg_connections_peak"],
                },
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
