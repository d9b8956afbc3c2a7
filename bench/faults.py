"""`make faults`: nothing is lost when Redis restarts, a server dies and Redis
stays down a while (issue 7). A benchmark, not a test: it reports, and
asserts nothing; tests/integration/test_faults.py is the short version that
asserts.

1. A redis-server of its own on a free port (nothing persisted) and a fresh
   PostgreSQL database of its own (`enishi_faults_<pid>` on the server of
   DATABASE_URL, default postgres://postgres@127.0.0.1:5432), migrated,
   seeded with listener and poster members, one community and one topic
   (bench.seed), and dropped at the end, also after Ctrl-C or a failure.
2. Two Daphne processes (DEBUG off), each on a free port, with the Procfile's
   own Daphne options.
3. --tabs tabs (default 300, five per member: a member may hold 20 sockets)
   that behave as the topic page does, half with server 1 as their home, half
   with server 2 (bench.tabs); --posters members (default 20) posting once a
   second each for --duration seconds (default 90).
4. Faults, in seconds from the first post: Redis restarted at 20, server 1
   killed with SIGKILL at 45 and started again on its port at 50, Redis
   stopped from 70 to the end of the posting; the tabs keep listening 10 s
   after it. --scale multiplies every time (and the posting).
5. A summary on stderr, then ONE JSON line on stdout (--logs DIR keeps the
   servers' logs).
"""

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

from bench.run import (
    PYTHON,
    ROOT,
    ConnectionSampler,
    django_env,
    free_port,
    hold_machine_lock,
    machine_info,
    postgres_reachable,
    raise_open_files_limit,
    recreate_postgres_database,
    redis_reachable,
    server_errors,
    stop,
    wait_for_http,
)
from bench.scenario import FaultPlan, describe, evaluate, run_scenario
from bench.tabs import Site

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
DAPHNE = Path(PYTHON).with_name("daphne")


def say(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def procfile_daphne_args(procfile: Path = ROOT / "Procfile") -> list[str]:
    """The options the Procfile's `web:` line gives Daphne (timeouts and the
    like), without its address, port and application: the servers here run
    as the site's do."""
    for line in procfile.read_text().splitlines():
        if not line.startswith("web:"):
            continue
        words = shlex.split(line.removeprefix("web:"))
        words = words[words.index("daphne") + 1 :] if "daphne" in words else []
        kept, skip = [], False
        for word in words:
            if skip:
                skip = False
            elif word in ("-b", "--bind", "-p", "--port"):
                skip = True
            elif not word.startswith(("-b=", "--bind=", "-p=", "--port=")) and (
                ":application" not in word
            ):
                kept.append(word)
        return kept
    return []


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


class Service:
    """A child process on a fixed port that can be stopped, killed and
    started again on the same port; its output appended to one log file."""

    def __init__(self, name: str, command: list[str], port: int, log: Path, env):
        self.name, self.command, self.port, self.log, self.env = (
            name,
            command,
            port,
            log,
            env,
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            if self.command[0] == str(DAPHNE):
                wait_for_http(self.port, self.proc)
            else:
                wait_for_port(self.port, self.proc)
        except RuntimeError as exc:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name}: {exc}\n{tail}") from exc

    def stop(self) -> None:
        stop(self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Fleet:
    """The controls bench.tabs.inject calls: one redis-server, the servers."""

    def __init__(self, redis: Service, servers: list[Service]):
        self.redis, self.servers = redis, servers

    def stop_redis(self) -> None:
        self.redis.stop()

    def start_redis(self) -> None:
        self.redis.start()

    def kill_server(self, index: int) -> None:
        self.servers[index].kill()

    def start_server(self, index: int) -> None:
        self.servers[index].start()

    def stop_servers(self) -> None:
        for service in self.servers:
            service.stop()


def faults_database_url() -> str:
    wanted = os.environ.get("DATABASE_URL") or DEFAULT_POSTGRES
    if not wanted.startswith(("postgres://", "postgresql://", "pgsql://")):
        wanted = DEFAULT_POSTGRES
    parts = urlsplit(wanted)
    return urlunsplit(parts._replace(path=f"/enishi_faults_{os.getpid()}"))


def commit() -> dict:
    def git(*argv: str) -> str:
        return subprocess.run(
            ["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def topic_rows(db_url: str, topic_id: int) -> list[tuple[int, str]]:
    import psycopg

    with psycopg.connect(db_url, connect_timeout=5) as conn:
        return conn.execute(
            "SELECT id, body FROM chat_message WHERE topic_id = %s ORDER BY id",
            (topic_id,),
        ).fetchall()


class CpuSampler(threading.Thread):
    """How busy the machine and each of our processes were, once a second:
    past about 90 % of every core the figures describe the machine as much as
    the app."""

    def __init__(self, services: list[Service]):
        super().__init__(daemon=True)
        self.services = services
        self.machine: list[float] = []
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.last: dict[int, float] = {}
        self.done = threading.Event()
        self.started_at = self.stopped_at = 0.0

    def run(self) -> None:
        psutil.cpu_percent(None)
        self.started_at = time.monotonic()
        while not self.done.wait(1.0):
            self.machine.append(psutil.cpu_percent(None))
            for service in self.services:
                proc = service.proc
                if proc is None:
                    continue
                with contextlib.suppress(psutil.Error):
                    times = psutil.Process(proc.pid).cpu_times()
                    total = times.user + times.system
                    self.seconds[service.name] += total - self.last.get(proc.pid, total)
                    self.last[proc.pid] = total

    def stop(self) -> dict:
        self.done.set()
        self.join(timeout=5)
        wall = max(time.monotonic() - self.started_at, 1e-9)
        return {
            "machine_mean_pct": round(statistics.fmean(self.machine or [0.0]), 1),
            "machine_seconds_over_95_pct": sum(1 for pct in self.machine if pct >= 95),
            "seconds": len(self.machine),
            # Per process, in % of one core.
            **{
                f"{name}_pct": round(cpu / wall * 100, 1)
                for name, cpu in sorted(self.seconds.items())
            },
        }


def log_summary(services: list[Service]) -> dict:
    """Per server: the first traceback (shown) and the most frequent lines."""
    found = {}
    for service in services:
        text = service.log.read_text(errors="replace") if service.log.exists() else ""
        traceback, kinds = server_errors(text)
        if not kinds:
            continue
        say(f"  {service.name}'s log:")
        for line in traceback[:30]:
            say(f"    | {line}")
        for line, count in kinds.most_common(8):
            say(f"    {count:5d} x {line[:160]}")
        found[service.name] = {
            "tracebacks": text.count("Traceback"),
            "top": [[line[:120], count] for line, count in kinds.most_common(5)],
        }
    return found


def execute(args, tmp: Path, cleanup: list) -> dict:
    plan = FaultPlan(
        tabs=args.tabs,
        posters=args.posters,
        duration=args.duration,
        scale=args.scale,
        seed=args.seed,
    )
    db_url = faults_database_url()
    pg_version = postgres_reachable(db_url)
    if not pg_version:
        raise SystemExit(f"PostgreSQL does not answer at {db_url}")
    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        raise SystemExit("redis-server not found (apt-get install redis-server)")

    redis_port = free_port()
    redis = Service(
        "redis-server",
        [
            redis_bin,
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        redis_port,
        tmp / "redis.log",
        dict(os.environ),
    )
    services = {
        "database": "postgresql",
        "database_version": pg_version,
        "db_url": db_url,
        "layer": "RedisPubSubChannelLayer",
        "redis_url": f"redis://127.0.0.1:{redis_port}/0",
    }
    env = django_env(services)
    env["BENCH_STATIC_ROOT"] = str(tmp / "static")

    say(f"database {db_url} (fresh), redis-server on port {redis_port}")
    recreate_postgres_database(db_url, create=True)
    cleanup.append(lambda: recreate_postgres_database(db_url, create=False))
    cleanup.append(redis.stop)
    redis.start()
    services["redis_version"] = redis_reachable(services["redis_url"])
    for command in (["migrate"], ["collectstatic"]):
        subprocess.run(
            [PYTHON, "manage.py", *command, "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=300,
        )
    say(f"seeding {plan.listeners} listeners and {plan.posters} posters ...")
    seed_path = tmp / "seed.json"
    subprocess.run(
        [PYTHON, "-m", "bench.seed", str(plan.listeners), str(plan.posters)]
        + [str(seed_path)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    seed = json.loads(seed_path.read_text())

    extra = procfile_daphne_args()
    servers = []
    for n in (1, 2):
        port = free_port()
        servers.append(
            Service(
                f"server {n}",
                [
                    str(DAPHNE),
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    *extra,
                    "project.asgi:application",
                ],
                port,
                tmp / f"daphne-{n}.log",
                env,
            )
        )
    fleet = Fleet(redis, servers)
    cleanup.append(fleet.stop_servers)
    # Runs before the servers stop (cleanup runs last first): a run that
    # fails or is interrupted still shows what the servers said.
    cleanup.append(lambda: None if "server_logs" in result else log_summary(servers))
    result: dict = {}
    for server in servers:
        server.start()
    say(
        "servers on ports "
        + ", ".join(str(s.port) for s in servers)
        + (f" (Daphne {' '.join(extra)})" if extra else "")
    )
    site = Site(
        ports=[s.port for s in servers],
        topic_id=seed["topic_id"],
        session_cookie=seed["session_cookie"],
        csrf_cookie=seed["csrf_cookie"],
    )
    sampler = ConnectionSampler(db_url)
    sampler.start()
    cpu = CpuSampler([*servers, redis])
    cpu.start()
    try:
        run, tabs = asyncio.run(
            run_scenario(plan, site, seed["listeners"], seed["posters"], fleet, say=say)
        )
    finally:
        sampler.stop()
        result["cpu"] = cpu.stop()
    result.update(evaluate(run, tabs, topic_rows(db_url, seed["topic_id"])))
    say(f"CPU: {result['cpu']}")
    result["pg_connections_peak"] = sampler.peak
    result["server_logs"] = log_summary(servers)
    result["parameters"] = plan.as_dict() | {"daphne_args": extra}
    result["services"] = services | {"redis_url": None, "db_url": None}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=300)
    parser.add_argument("--posters", type=int, default=20)
    parser.add_argument("--duration", type=float, default=90.0, help="seconds")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiplies every time"
    )
    parser.add_argument("--seed", type=int, default=None, help="for random()")
    parser.add_argument(
        "--logs", type=Path, default=None, help="keep the servers' logs here"
    )
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.randrange(2**31)
    raise_open_files_limit()
    lock = hold_machine_lock()  # noqa: F841 (held until the process exits)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    tmp = Path(tempfile.mkdtemp(prefix="enishi-faults-"))
    cleanup: list = []
    busy_before = psutil.cpu_percent(interval=1)
    try:
        result = execute(args, tmp, cleanup)
    finally:
        for step in reversed(cleanup):
            try:
                step()
            except Exception as exc:
                say(f"cleanup: {exc!r}")
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            for log in tmp.glob("*.log"):
                shutil.copy(log, args.logs / log.name)
            say(f"logs kept in {args.logs}")
        shutil.rmtree(tmp, ignore_errors=True)
    machine = machine_info(result["services"], False, busy_before)
    say("")
    say(
        f"Machine: {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gb']} GB"
    )
    for line in describe(result):
        say(line)
    out = {
        "machine": {
            "cpu": machine["cpu"],
            "cores": machine["cores"],
            "memory_gb": machine["memory_gb"],
            "python": machine["python"],
            "postgresql": machine["postgresql"],
            "redis": machine["redis"],
            "busy_pct_before": busy_before,
            "date": machine["date"],
        },
        **commit(),
        **{k: v for k, v in result.items() if k != "services"},
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
