"""Where a request's time goes, for `make faults` (bench/settings.py adds it
when BENCH_TIMING_LOG is set): one line per request, as JSON, with when it
ended (wall clock), its path, its status, how long it waited for a place
(load shedding) and how long it then took, in ms. Asynchronous, first in
the chain, so the wait is measured from the request's arrival."""

import json
import os
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class TimingMiddleware:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        assert iscoroutinefunction(get_response)
        markcoroutinefunction(self)
        self.log = open(os.environ["BENCH_TIMING_LOG"], "a", buffering=1)  # noqa: SIM115

    async def __call__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        took = time.perf_counter() - started
        self.log.write(
            json.dumps(
                {
                    "t": time.time(),
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round(took * 1000, 2),
                    # Of which waiting for a place (project/overload.py).
                    "wait_ms": round(
                        (getattr(request, "admitted_at", started) - started) * 1000, 2
                    ),
                    "pid": os.getpid(),
                    "bytes": 0 if response.streaming else len(response.content),
                    "query": request.META.get("QUERY_STRING", "")[:200],
                    "cursor": response.get("X-Cursor"),
                }
            )
            + "\n"
        )
        return response
