"""One read of a topic's new messages for every page catching up at once.

After an outage every open page of a topic catches up together, and most ask
the same question: the messages after the same cursor (the last message they
all had when the live path broke). Each answer was its own query of up to
CATCHUP_LIMIT rows and its own fragment keys; under `make faults` those reads
were what a process did most of while its pages waited.

`SharedReads.rows_after(topic_id, after, arrived)` answers from a read of the
same topic and cursor when that read began after the request arrived, or
waits for one in progress that did; otherwise it reads, and the requests
behind it can use that read. A read that began after a request arrived holds
every message committed before the request was sent, hence before its page's
socket opened (the page asks only once its socket is open): anything
committed since comes live. So sharing never returns less than reading anew
would have, for the cursor rule of docs/live-protocol.md.

What is shared is the topic's rows as they are for a member hidden from no
one (no block either way): for such a member `Message.visible_to` filters
nothing. The view reads for itself for any other member. The rows are plain
values (fragments.KEY_FIELDS), never a member's likes or blocks.

The reads live in this process's memory for READ_KEPT seconds; nothing
another process needs is kept here.
"""

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from chat import fragments
from chat.models import Message

# A read is of use to requests that arrived before it began; those waited at
# most SHED_WAIT (project/overload.py) for their turn, and a few seconds more
# to be answered. Past this nobody can use it.
READ_KEPT = 30.0  # seconds
# How long a request waits for a read in progress before reading itself.
WAIT_FOR_READ = 5.0  # seconds
MAX_READS = 256


def rows_after(messages, after: int, limit: int) -> tuple:
    """The catch-up read: the messages of `messages` after `after`, in id
    order, up to limit + 1 (one more says there are more), as plain values
    (fragments.KEY_FIELDS). One indexed query (topic, -id)."""
    return tuple(
        messages.filter(pk__gt=after)
        .order_by("pk")
        .values_list(*fragments.KEY_FIELDS, named=True)[: limit + 1]
    )


@dataclass(frozen=True)
class Read:
    began: float  # monotonic
    taken_at: datetime  # when the read began, for X-Synced-At
    rows: tuple  # up to limit + 1 rows, in id order


class SharedReads:
    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._reads: dict[tuple[int, int], Read] = {}
        self._reading: dict[tuple[int, int], tuple[float, threading.Event]] = {}
        self.reads = 0  # queries made (tests count them)

    def rows_after(self, topic_id: int, after: int, arrived: float) -> Read:
        """The topic's messages after `after`, read at or after `arrived`
        (time.monotonic()), as everyone hidden from no one sees them."""
        key = (topic_id, after)
        while True:
            with self._lock:
                read = self._reads.get(key)
                if read is not None and read.began >= arrived:
                    return read
                reading = self._reading.get(key)
                if reading is None or reading[0] < arrived:
                    began = time.monotonic()
                    done = threading.Event()
                    self._reading[key] = (began, done)
                    break
            # A read that began after this request arrived is on its way.
            if not reading[1].wait(WAIT_FOR_READ):
                with self._lock:
                    if self._reading.get(key) is reading:
                        del self._reading[key]  # stuck: read anew
        try:
            read = Read(began, timezone.now(), self._read(topic_id, after))
            with self._lock:
                self._keep(key, read)
            return read
        finally:
            with self._lock:
                if self._reading.get(key) == (began, done):
                    del self._reading[key]
            done.set()

    def _read(self, topic_id: int, after: int) -> tuple:
        self.reads += 1
        return rows_after(Message.objects.filter(topic_id=topic_id), after, self.limit)

    def _keep(self, key, read: Read) -> None:
        kept = self._reads.get(key)
        if kept is None or kept.began < read.began:
            self._reads[key] = read
        if len(self._reads) > MAX_READS:
            oldest = time.monotonic() - READ_KEPT
            for stale in [k for k, r in self._reads.items() if r.began < oldest]:
                del self._reads[stale]
            while len(self._reads) > MAX_READS:
                del self._reads[min(self._reads, key=lambda k: self._reads[k].began)]
