"""One rate limiter for every app: a budget of actions per member and window,
counted in Django's cache (Redis when REDIS_URL is set, so the budget holds
across processes; LocMemCache in the embedded default, one process).

Counting is atomic: cache.add makes a window's counter once and cache.incr
bumps it (INCR on Redis, under a lock in LocMemCache), so of many requests at
the same instant exactly as many get through as the budget has left, with no
database lock. A refused action gives its count back at once, and an action
that did not happen after all (a resend that lost a race) gives it back too:
neither costs anything.

The window slides, approximately: the previous window's count still weighs on
the current one in proportion to how much of it lies within the last `per`
seconds. A full budget spent just before a window's boundary is therefore not
followed by a second full one just after it, without keeping a time stamp per
action.
"""

import logging
import time
from dataclasses import dataclass

from django.core.cache import cache

logger = logging.getLogger(__name__)

# What take() answers when it could not count: allowed, nothing to give back.
UNCOUNTED = ""


def now() -> float:
    """Wall-clock seconds (shared by every process); tests move it."""
    return time.time()


@dataclass(frozen=True)
class Budget:
    """At most `limit` actions named `name` per `per` seconds, per `who`."""

    name: str
    limit: int
    per: int

    def _key(self, who, window: int) -> str:
        return f"ratelimit:{self.name}:{who}:{window}"

    def take(self, who) -> str | None:
        """Count one action of `who`: the key to give it back with, or None
        (nothing counted) when the budget is spent.

        When the cache cannot be reached (Redis restarting) the action is let
        through and counted nowhere: a limit protects the site from floods,
        it is not a rule worth refusing a member's message over, and the
        write itself goes to the database, which is up.
        """
        window, into = divmod(now(), self.per)
        key = self._key(who, int(window))
        try:
            # A counter lives through its own window and the next, where it
            # is the previous one.
            cache.add(key, 0, timeout=2 * self.per + 1)
            count = cache.incr(key)
            previous = cache.get(self._key(who, int(window) - 1), 0)
        except Exception:
            logger.warning("Rate limit %s not counted", self.name, exc_info=True)
            return UNCOUNTED
        if previous * (1 - into / self.per) + count > self.limit:
            self.give_back(key)
            return None
        return key

    def give_back(self, key: str) -> None:
        """Uncount an action take() counted under `key`."""
        if key == UNCOUNTED:
            return
        try:
            cache.decr(key)
        except ValueError:
            pass  # the counter has expired: nothing is left to give back
        except Exception:
            logger.warning("Rate limit count not given back", exc_info=True)
