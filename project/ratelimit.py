"""One rate limiter for every app: a budget of actions per member and window,
counted in Django's cache (Redis when REDIS_URL is set, so the budget holds
across processes; LocMemCache in the embedded default, one process).

Counting is atomic: cache.add makes a counter once and cache.incr bumps it
(INCR on Redis, under a lock in LocMemCache), so of many requests at the same
instant exactly as many get through as the budget has left, with no database
lock. A refused action gives its count back at once, and an action that did
not happen after all (a resend that lost a race) gives it back too: neither
costs anything.

The window slides. Actions are counted per beat, the budget's own interval
(`per` / `limit` seconds: one second for 10 per 10 s), and every beat wholly
in the window counts in full, so `limit` + 1 actions within `per` less one
and a half beats (8.5 s for 10 per 10 s) are refused wherever they fall,
without a time stamp per action. Two rules keep a member who acts steadily at
the budget's rate, one action a beat, from ever being refused:

- The window reaches back half a beat less than `per`. That member's action
  of `limit` beats ago lies exactly `per` ago, on the edge: a few milliseconds
  of network or server delay would decide whether it still counted, and with
  it whether their next action is refused. Half a beat inside, it is out with
  half a beat to spare either way.
- The beat the edge cuts through counts only the actions that must lie after
  the edge had they been evenly spread over it (the fewest, over where the
  spread starts): a member at the rate has one action there, which never
  counts; a burst there counts for the share of it the edge leaves in view,
  less one.

The estimate this replaces (two counters per window, the previous one weighted
by the share of it still in view) put a member sending exactly once a second
at 10 to 11 of 10, and refused about one post in 18 (issue 7's fault run).
"""

import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import cache

from project import cache_guard

logger = logging.getLogger(__name__)

# What take() answers when it could not count: allowed, nothing to give back.
UNCOUNTED = ""

# Time is taken in whole microseconds so that where the window's edge falls
# within a beat is exact: a member at the rate sits precisely on beat
# boundaries in the tests, and a rounding error there would decide.
_MICRO = 1_000_000


def now() -> float:
    """Wall-clock seconds (shared by every process); tests move it."""
    return time.time()


class TooFast:
    """Mixed into an app's refusal class (communities.access.RateLimited,
    diary.actions.RateLimited): answered 429, with `retry_after` seconds for
    the Retry-After header (project/refusals.py); None when not known."""

    status = 429

    def __init__(self, message="", *, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Budget:
    """At most `limit` actions named `name` per `per` seconds, per `who`;
    a steady one every `per` / `limit` seconds is always allowed."""

    name: str
    limit: int
    per: int

    def _key(self, who, beat: int) -> str:
        return f"ratelimit:{self.name}:{who}:{beat}"

    def _frame(self) -> tuple[int, int, int, int, int]:
        """Where the window is now, in units of 1 / (limit * _MICRO) s: a
        beat's length, the moment, its beat, the window's edge, and the beat
        the edge cuts through (the window is `limit` beats less half a beat)."""
        beat_units = self.per * _MICRO
        position = round(now() * _MICRO) * self.limit
        beat = position // beat_units
        edge = position - self.limit * beat_units + beat_units // 2
        return beat_units, position, beat, edge, edge // beat_units

    def take(self, who) -> str | None:
        """Count one action of `who`: the key to give it back with, or None
        (nothing counted) when the budget is spent.

        When the cache cannot be reached (Redis restarting) the action is let
        through and counted nowhere: a limit protects the site from floods,
        it is not a rule worth refusing a member's message over, and the
        write itself goes to the database, which is up. After a failure the
        cache is not tried again for a few seconds (cache_guard), so sends
        do not each wait out Redis's connect timeout while it is down.
        """
        beat_units, _position, beat, edge, first = self._frame()
        key = self._key(who, beat)

        def count_this_one():
            # A beat's counter is read until the edge has passed it.
            cache.add(key, 0, timeout=self.per + self.per // self.limit + 2)
            count = cache.incr(key)
            return count, cache.get_many(
                [self._key(who, b) for b in range(first, beat)]
            )

        counted = cache_guard.attempt(
            count_this_one, "Rate limit %s not counted", self.name
        )
        if counted is None:
            return UNCOUNTED
        count, earlier = counted
        counts = {b: earlier.get(self._key(who, b), 0) for b in range(first, beat)}
        counts[beat] = count
        in_view = sum(counts[b] for b in range(first + 1, beat + 1))
        # Of n actions evenly spread over the cut beat, at the least
        # ceil(n * share) - 1 lie after the edge, `share` being the part of
        # the beat after it.
        after_edge = (first + 1) * beat_units - edge
        in_view += max(0, -(-counts[first] * after_edge // beat_units) - 1)
        if in_view > self.limit:
            self.give_back(key)
            return None
        return key

    def retry_after(self, who) -> int:
        """Whole seconds (at least 1) until `who`'s next action is allowed,
        if they take none meanwhile: the first moment take() would count one
        by its own rule, rounded up. 1 when the cache cannot be read."""
        beat_units, _position, beat, edge, first = self._frame()
        keys = [self._key(who, b) for b in range(first, beat + 1)]
        read = cache_guard.attempt(
            lambda: cache.get_many(keys), "Rate limit %s not read", self.name
        )
        if read is None:
            return 1
        counts = [read.get(k, 0) for k in keys]
        target = edge
        for index, count in enumerate(counts):
            # With the edge in this beat, the beats after it count in full,
            # and this one for ceil(count * after / beat) - 1 (take()); the
            # new action itself is one more.
            room = self.limit - 1 - sum(counts[index + 1 :])
            if room < 0:
                continue
            start = (first + index) * beat_units
            after_most = beat_units if not count else (room + 1) * beat_units // count
            target = max(edge, start, start + beat_units - after_most)
            break
        else:
            target = max(edge, (beat + 1) * beat_units)
        wait = (target - edge) / (self.limit * _MICRO)
        return max(1, math.ceil(wait))

    def spend(self, who, words, refused: type[Exception]) -> str:
        """take(), or raise `refused(words % {"seconds": n}, retry_after=n)`
        when the budget is spent: `words` say so and when to try again
        (ngettext_lazy(..., "seconds"))."""
        key = self.take(who)
        if key is None:
            seconds = self.retry_after(who)
            raise refused(words % {"seconds": seconds}, retry_after=seconds)
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
