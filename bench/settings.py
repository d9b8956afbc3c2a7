"""The project's settings, with the bench's Redis traffic kept apart and the
server's garbage collections timed (and, for `make faults`, the static files
collected where it says).

Redis pub/sub channels are global to a Redis server (not per database), so a
bench on the machine's Redis would share group names such as `topic.1.en` with
a test run there. A prefix of its own keeps the two apart; nothing else
changes, so the bench measures the app as configured.

With BENCH_GC_LOG set, every garbage collection in the server is timed and the
running totals written to that file (as JSON, at most every 0.2 s): the load
generator reads it at both ends of a run to tell how much of the server's time
went to the collector.
"""

import gc
import json
import os
import time

from project.settings import *  # noqa: F403
from project.settings import CHANNEL_LAYERS

if CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"):
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "enishi-bench"

# With DEBUG off pages need collected static files (their manifest names the
# hashed files); `make faults` collects them into a directory of its own.
if os.environ.get("BENCH_STATIC_ROOT"):
    STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]


def _time_collections(path: str) -> None:
    # Pauses of 5 ms or more, with the wall-clock time they ended (the last 500).
    totals = {"seconds": 0.0, "collections": [0, 0, 0], "long_pauses": []}
    state = {"started": 0.0, "written": 0.0}
    clock = time.perf_counter

    def write() -> None:
        with open(path + ".tmp", "w") as f:
            json.dump(totals, f)
        os.replace(path + ".tmp", path)

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            state["started"] = clock()
            return
        now = clock()
        pause = now - state["started"]
        totals["seconds"] += pause
        totals["collections"][info["generation"]] += 1
        if pause >= 0.005:
            totals["long_pauses"] = [
                *totals["long_pauses"][-499:],
                (time.time(), pause, info["generation"]),
            ]
        if now - state["written"] > 0.2:
            state["written"] = now
            write()

    write()
    gc.callbacks.append(callback)


if os.environ.get("BENCH_GC_LOG"):
    _time_collections(os.environ["BENCH_GC_LOG"])


if os.environ.get("BENCH_TIMING_LOG"):
    MIDDLEWARE = ["bench.timing.TimingMiddleware", *MIDDLEWARE]  # noqa: F405
