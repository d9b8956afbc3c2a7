"""Many members pressing "Going" at the same moment, on PostgreSQL with real
threads (each its own connection): the event's row lock queues them, so
the capacity is never exceeded, the waitlist is in the order the answers
took the lock, and seats that free up go to the head of the waitlist
(docs/events.md, "Seats and the waitlist").

The order in which answers took the lock is read back from the rows: each
answer adds one to Event.version under the lock and stamps the row it wrote
with it, so the versions 1..n are the answers in lock order.
"""

import threading
from functools import partial

import pytest
from django.db import connection

from events import actions, live
from events.models import RSVP
from presence.models import Notification
from tests.events.conftest import make_event, members_of
from tests.events.test_actions import assert_counts_match_rows

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GOING, WAITLISTED = "going", "waitlisted"


@pytest.fixture
def published(monkeypatch):
    """Each publish after commit, from whichever thread committed."""
    sent = []
    lock = threading.Lock()

    def record(event_id, changed, positions_changed):
        with lock:
            sent.append((event_id, changed, positions_changed))

    monkeypatch.setattr(live, "publish", record)
    return sent


def at_once(works) -> list:
    """Run each work in a thread of its own, all released together; return
    what each returned. Every thread must finish (no deadlock) and none may
    raise."""
    ready = threading.Barrier(len(works), timeout=30)
    results = [None] * len(works)

    def run(index, work):
        try:
            ready.wait()
            results[index] = work()
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, work), daemon=True)
        for index, work in enumerate(works)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not [thread for thread in threads if thread.is_alive()]
    assert [r for r in results if isinstance(r, BaseException)] == []
    return results


def rows_in_lock_order(event) -> list[RSVP]:
    return list(RSVP.objects.filter(event=event).order_by("version"))


def expected_after_arrivals(capacity: int, rows: list[RSVP]) -> dict[int, str]:
    """Each answer replayed in lock order by the rule: a seat if the seats
    are free and no one waits, else the end of the waitlist."""
    free, waiting, expected = capacity, False, {}
    for rsvp in rows:
        if not waiting and free >= rsvp.seats:
            free -= rsvp.seats
            expected[rsvp.member_id] = GOING
        else:
            waiting = True
            expected[rsvp.member_id] = WAITLISTED
    return expected


def expected_promoted(free: int, waiting: list[RSVP]) -> list[int]:
    """The head of the waitlist, in order, while it fits in `free` seats."""
    promoted = []
    for rsvp in waiting:
        if rsvp.seats > free:
            break
        free -= rsvp.seats
        promoted.append(rsvp.member_id)
    return promoted


def promoted_notified(event) -> set[int]:
    return set(
        Notification.objects.filter(
            kind="event_promoted", target_id=event.pk
        ).values_list("recipient_id", flat=True)
    )


def test_fifty_going_at_once_for_ten_seats_then_three_withdraw(club, published):
    event = make_event(club, capacity=10)
    members = members_of(club, 50)

    at_once([partial(actions.answer, member, event, GOING) for member in members])

    rows = rows_in_lock_order(event)
    assert [rsvp.version for rsvp in rows] == list(range(1, 51))
    going = [rsvp for rsvp in rows if rsvp.status == GOING]
    waiting = sorted(
        (rsvp for rsvp in rows if rsvp.status == WAITLISTED),
        key=lambda rsvp: rsvp.waitlist_seq,
    )
    # The first ten to take the lock have the seats; the waitlist is the
    # other forty in the order they took it, numbered without a gap.
    assert [rsvp.version for rsvp in going] == list(range(1, 11))
    assert [rsvp.version for rsvp in waiting] == list(range(11, 51))
    assert [rsvp.waitlist_seq for rsvp in waiting] == list(range(1, 41))
    assert [actions.waitlist_position(rsvp) for rsvp in waiting] == list(range(1, 41))
    event = assert_counts_match_rows(event)
    assert (event.seats_taken, event.going_count, event.waitlist_count) == (
        10,
        10,
        40,
    )
    assert event.waitlist_seq == 40
    assert len(published) == 50
    published.clear()

    leaving = going[:3]
    at_once([partial(actions.withdraw, rsvp.member, event) for rsvp in leaving])

    first_three = [rsvp.member_id for rsvp in waiting[:3]]
    now_going = set(
        RSVP.objects.filter(event=event, status=GOING).values_list(
            "member_id", flat=True
        )
    )
    assert now_going == {rsvp.member_id for rsvp in going[3:]} | set(first_three)
    assert promoted_notified(event) == set(first_three)
    still_waiting = list(
        RSVP.objects.filter(event=event, status=WAITLISTED).order_by("waitlist_seq")
    )
    assert [rsvp.member_id for rsvp in still_waiting] == [
        rsvp.member_id for rsvp in waiting[3:]
    ]
    assert [actions.waitlist_position(rsvp) for rsvp in still_waiting] == list(
        range(1, 38)
    )
    event = assert_counts_match_rows(event)
    assert (event.seats_taken, event.waitlist_count) == (10, 37)
    # Each withdrawal published its member and the one it promoted.
    assert sorted(member for _e, changed, _p in published for member in changed) == (
        sorted([rsvp.member_id for rsvp in leaving] + first_three)
    )


def test_parties_of_one_and_three_at_once_fill_the_seats_first_come_first_served(
    club,
):
    event = make_event(club, capacity=10, guests_allowed=2)
    members = members_of(club, 30)
    asked = {member.pk: 2 if index % 2 else 0 for index, member in enumerate(members)}

    at_once(
        [
            partial(actions.answer, member, event, GOING, guests=asked[member.pk])
            for member in members
        ]
    )

    rows = rows_in_lock_order(event)
    assert [rsvp.version for rsvp in rows] == list(range(1, 31))
    assert {rsvp.member_id: rsvp.guests for rsvp in rows} == asked
    assert {rsvp.member_id: rsvp.status for rsvp in rows} == expected_after_arrivals(
        10, rows
    )
    waiting = sorted(
        (rsvp for rsvp in rows if rsvp.status == WAITLISTED),
        key=lambda rsvp: rsvp.waitlist_seq,
    )
    assert [rsvp.version for rsvp in waiting] == sorted(
        rsvp.version for rsvp in waiting
    )
    event = assert_counts_match_rows(event)
    assert event.seats_taken <= event.capacity

    going = [rsvp for rsvp in rows if rsvp.status == GOING]
    leaving, staying = going[:3], going[3:]
    at_once([partial(actions.withdraw, rsvp.member, event) for rsvp in leaving])

    # Whatever order the withdrawals took the lock in, the seats they freed
    # went to the head of the waitlist while it fitted, and to no one behind
    # a head that did not.
    free = event.capacity - sum(rsvp.seats for rsvp in staying)
    promoted = expected_promoted(free, waiting)
    assert promoted_notified(event) == set(promoted)
    assert list(
        RSVP.objects.filter(event=event, status=WAITLISTED)
        .order_by("waitlist_seq")
        .values_list("member_id", flat=True)
    ) == [rsvp.member_id for rsvp in waiting[len(promoted) :]]
    event = assert_counts_match_rows(event)
    assert event.seats_taken <= event.capacity
