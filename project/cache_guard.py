"""Not waiting on a cache that is down.

The cache is Redis, with a one-second connect timeout (settings). While Redis
is down, every cache call would wait that second before failing: each send
(the rate limit reads the cache) and each catch-up (its fragments come from
the cache) would take a second or two longer, and under a storm of catch-ups
those seconds held the few places a process gives them (make faults).

So after a cache call fails, the callers that can do without the cache skip
it for RETRY_AFTER seconds, then try it again. What each skips is a saving or
a flood guard, never a rule: the rate limit lets the write through uncounted,
catch-up renders its fragments. The state is this process's own: each
process finds out for itself, at the cost of one failed call.
"""

import logging
import threading
import time

logger = logging.getLogger(__name__)

RETRY_AFTER = 5.0  # seconds

_lock = threading.Lock()
_down_until = 0.0


def monotonic() -> float:
    """The clock (tests move it)."""
    return time.monotonic()


def usable() -> bool:
    """False for RETRY_AFTER seconds after a call failed."""
    return monotonic() >= _down_until


def failed() -> None:
    """A cache call failed: skip the cache for a while."""
    global _down_until
    with _lock:
        _down_until = monotonic() + RETRY_AFTER


def reset() -> None:
    global _down_until
    with _lock:
        _down_until = 0.0


def attempt(work, warning: str, *args):
    """What work() answers (it must not answer None), or None when the cache
    is being skipped or work() failed; a failure is noted, and logged as
    `warning` % args."""
    if not usable():
        return None
    try:
        return work()
    except Exception:
        failed()
        logger.warning(warning, *args, exc_info=True)
        return None
