"""How widely this process's pages spread a mass reconnect.

When this process's layer reconnects to Redis, every socket it holds is
closed at the same instant (4503); when it restarts, every socket
it held drops at once. If every page reconnected at once, the process (or
its neighbour) would meet all of them in the same second and its connect
timeout would drop the handshakes at the back of the queue. So each page
waits a random time within a spread (static/js/live.js), and the spread is
sized here to the sockets this process holds: about as long as the process
takes to accept them all. The page reads it from `#live`
(`data-reconnect-spread`, chat/context_processors.py).

Only this process's count matters (it is this process's sockets that move
together), so it is a plain counter: the consumer counts a socket when it
accepts it to stay open and uncounts it when it disconnects, both on the
event loop's thread.
"""

# How fast one process takes sockets in: one Daphne process accepted 1,000
# sockets opening at once, each with its session, two topics and its member's
# limit to check, in 6 to 10 s before sockets opening together shared their
# database hops (project/socket_auth.py), and in 2 to 4.4 s since (make bench,
# on a 2-CPU machine it shared with PostgreSQL, Redis and the 1,000 clients).
# Spreading a process's reconnects over 10 ms a socket brings them back
# slower than the process takes them in, leaving room for the catch-up each
# page then makes; 1,000 sockets or more reach the 10 s ceiling.
MS_PER_SOCKET = 10
MIN_SPREAD_MS = 500
MAX_SPREAD_MS = 10_000

# While this process has lost Redis (chat/layers.py, live.degraded) its pages
# fetch what is new over HTTP, each once per poll interval at a random phase.
# The interval grows with the sockets the process holds, so that together
# they ask about 20 times a second whatever their number: a poll costs a
# process 14 ms of CPU plus 16 us a message it brings (a Daphne process
# hammered with catch-ups on a 2-core AMD EPYC machine), so 20 a second
# leave it most of a core for the posts and the page loads. At 40 a second
# (25 ms a socket) the polls alone filled one process in make faults, their
# answers waited seconds for the gate and grew with the wait. A page asks at
# least every 2 s.
POLL_MS_PER_SOCKET = 50
MIN_POLL_MS = 2_000

_open_sockets = 0


def opened() -> None:
    global _open_sockets
    _open_sockets += 1


def closed() -> None:
    global _open_sockets
    _open_sockets = max(0, _open_sockets - 1)


def open_sockets() -> int:
    return _open_sockets


def spread_ms() -> int:
    """Milliseconds over which this process's pages should spread a mass
    reconnect."""
    return min(MAX_SPREAD_MS, max(MIN_SPREAD_MS, _open_sockets * MS_PER_SOCKET))


def poll_ms() -> int:
    """Milliseconds between a page's catch-ups while this process cannot
    deliver live (chat/layers.py)."""
    return max(MIN_POLL_MS, _open_sockets * POLL_MS_PER_SOCKET)
