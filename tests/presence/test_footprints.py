"""Footprints (presence/footprints.py): the rules of recording one (a page or
an entry the visitor may see, one row a day keeping the latest time and
counting visits, none for oneself, between blocked members or with "Leave
footprints" off on either side), the owner's Footprints page (who may see
it, what it lists, flat queries), deleting one's footprint (the monthly
quota), the purge, two visits at once on PostgreSQL, and the live notice to
the owner's sockets only."""

import datetime
import threading
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.actions import make_friends
from accounts.models import Block
from diary.models import Entry
from presence import footprints
from presence.models import Footprint, FootprintErasure
from tests.chat import conftest as chat_fixtures
from tests.chat.conftest import NOTHING_TIMEOUT, RECEIVE_TIMEOUT
from tests.conftest import client_for

live_layer = chat_fixtures.live_layer
open_tab = chat_fixtures.open_tab
open_socket = chat_fixtures.open_socket

LIST = reverse("footprints:list")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def page_of(member) -> str:
    return reverse("accounts:member-detail", kwargs={"nickname": member.nickname})


def erase_url(member) -> str:
    return reverse("footprints:erase", kwargs={"nickname": member.nickname})


def rows(owner):
    return list(
        Footprint.objects.filter(owner=owner)
        .order_by("day", "visitor_id")
        .values("visitor__nickname", "day", "visits")
    )


def today():
    return timezone.localdate()


# --- Recording ------------------------------------------------------------------------


def test_opening_a_members_page_leaves_one_footprint_a_day_counting_visits(aiko, ben):
    client = client_for(ben)
    before = timezone.now()
    assert client.get(page_of(aiko)).status_code == 200
    first = Footprint.objects.get(owner=aiko, visitor=ben)
    assert client.get(page_of(aiko)).status_code == 200
    assert client.get(page_of(aiko)).status_code == 200

    [row] = Footprint.objects.filter(owner=aiko)
    assert (row.visitor_id, row.day, row.visits) == (ben.pk, today(), 3)
    # The latest time is kept.
    assert row.visited_at >= first.visited_at >= before


def test_a_new_day_makes_a_new_row_and_the_old_one_stays(aiko, ben):
    yesterday = today() - timedelta(days=1)
    Footprint.objects.create(
        owner=aiko,
        visitor=ben,
        day=yesterday,
        visited_at=timezone.now() - timedelta(days=1),
        visits=4,
    )

    client_for(ben).get(page_of(aiko))

    assert rows(aiko) == [
        {"visitor__nickname": "ben", "day": yesterday, "visits": 4},
        {"visitor__nickname": "ben", "day": today(), "visits": 1},
    ]


def test_the_latest_time_wins_even_when_an_earlier_visit_writes_last(aiko, ben):
    later = timezone.now() + timedelta(minutes=5)
    Footprint.objects.create(
        owner=aiko, visitor=ben, day=today(), visited_at=later, visits=1
    )

    assert footprints.record_visit(owner=aiko, visitor=ben)

    row = Footprint.objects.get(owner=aiko, visitor=ben)
    assert row.visited_at == later
    assert row.visits == 2


def test_opening_a_diary_entry_leaves_a_footprint_for_its_author(aiko, ben):
    make_friends(aiko, ben)
    entry = Entry.objects.create(author=aiko, title="Tea", body="Green tea.")
    client = client_for(ben)

    assert client.get(reverse("diary:entry-detail", args=[entry.pk])).status_code == 200
    # The page's catch-up (each time its socket opens) is not a visit.
    catch_up = client.get(
        reverse("diary:entry-detail", args=[entry.pk]) + "?after=0",
        HTTP_HX_REQUEST="true",
    )
    assert catch_up.status_code == 200

    assert rows(aiko) == [{"visitor__nickname": "ben", "day": today(), "visits": 1}]


def test_an_entry_the_visitor_may_not_see_leaves_no_footprint(aiko, ben):
    entry = Entry.objects.create(author=aiko, title="Tea", body="Green tea.")
    assert entry.audience == "friends"

    response = client_for(ben).get(reverse("diary:entry-detail", args=[entry.pk]))

    assert response.status_code == 404
    assert not Footprint.objects.exists()


def test_no_footprint_on_ones_own_page_or_entry(aiko):
    entry = Entry.objects.create(author=aiko, title="Tea", body="Green tea.")
    client = client_for(aiko)
    client.get(page_of(aiko))
    client.get(reverse("diary:entry-detail", args=[entry.pk]))

    assert not Footprint.objects.exists()
    assert footprints.record_visit(owner=aiko, visitor=aiko) is False


@pytest.mark.parametrize("who_blocks", ["owner", "visitor"])
def test_no_footprint_between_blocked_members(aiko, ben, who_blocks):
    blocker, blocked = (aiko, ben) if who_blocks == "owner" else (ben, aiko)
    Block.objects.create(blocker=blocker, blocked=blocked)

    assert client_for(ben).get(page_of(aiko)).status_code == 404
    # And the statement itself refuses, whoever calls it.
    assert footprints.record_visit(owner=aiko, visitor=ben) is False
    assert not Footprint.objects.exists()


def test_a_visitor_who_leaves_no_footprints_leaves_none(aiko, ben):
    ben.leaves_footprints = False
    ben.save()

    assert client_for(ben).get(page_of(aiko)).status_code == 200

    assert not Footprint.objects.exists()


def test_no_one_leaves_a_footprint_on_a_member_who_leaves_none(aiko, ben):
    aiko.leaves_footprints = False
    aiko.save()

    assert client_for(ben).get(page_of(aiko)).status_code == 200

    assert not Footprint.objects.exists()


def test_the_statement_reads_the_settings_itself(aiko, ben):
    """Objects loaded before a member turned footprints off still make
    nothing: the upsert checks the stored settings."""
    stale_aiko = type(aiko).objects.get(pk=aiko.pk)
    type(aiko).objects.filter(pk=aiko.pk).update(leaves_footprints=False)

    assert footprints.record_visit(owner=stale_aiko, visitor=ben) is False
    assert not Footprint.objects.exists()


def test_recording_is_one_statement(aiko, ben):
    with CaptureQueriesContext(connection) as queries:
        footprints.record_visit(owner=aiko, visitor=ben)
    assert len(queries) == 1
    assert "ON CONFLICT" in queries[0]["sql"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_visits_at_once_make_one_row_with_two_visits(aiko, ben):
    ready = threading.Barrier(2, timeout=10)
    results = []

    def visit():
        try:
            with transaction.atomic():
                ready.wait()
                results.append(footprints.record_visit(owner=aiko, visitor=ben))
                # Hold the transaction open: the other visit's statement runs
                # while this row is not yet committed.
                time.sleep(0.3)
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=visit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert results == [True, True]
    assert rows(aiko) == [{"visitor__nickname": "ben", "day": today(), "visits": 2}]


# --- The owner's Footprints page ------------------------------------------------------


def test_the_footprints_page_lists_visitors_latest_first_with_how_often(
    aiko, ben, chika, daichi
):
    now = timezone.now()
    for days_ago, visitor, visits in [
        (0, ben, 2),
        (3, ben, 1),
        (1, chika, 5),
        (footprints.DAYS_KEPT, daichi, 9),  # too old: not listed
    ]:
        Footprint.objects.create(
            owner=aiko,
            visitor=visitor,
            day=today() - timedelta(days=days_ago),
            visited_at=now - timedelta(days=days_ago),
            visits=visits,
        )

    page = client_for(aiko).get(LIST)

    assert page.status_code == 200
    listed = [
        (row["visitor__nickname"], row["total_visits"]) for row in page.context["page"]
    ]
    assert listed == [("ben", 3), ("chika", 5)]
    html = page.content.decode()
    assert html.index("ben") < html.index("chika")
    assert "3 visits" in html
    assert "daichi" not in html


def test_a_member_sees_only_their_own_footprints(aiko, ben, chika):
    client_for(ben).get(page_of(aiko))

    assert "ben" in [
        r["visitor__nickname"] for r in client_for(aiko).get(LIST).context["page"]
    ]
    others = client_for(chika).get(LIST)
    assert others.status_code == 200
    assert list(others.context["page"]) == []
    assert "No footprints yet." in others.content.decode()


def test_anonymous_visitors_go_to_the_login(aiko):
    response = client_for(aiko).__class__().get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("who_blocks", ["owner", "visitor"])
def test_a_block_after_the_visit_hides_the_footprint(aiko, ben, who_blocks):
    client_for(ben).get(page_of(aiko))
    blocker, blocked = (aiko, ben) if who_blocks == "owner" else (ben, aiko)
    Block.objects.create(blocker=blocker, blocked=blocked)

    page = client_for(aiko).get(LIST)

    assert list(page.context["page"]) == []
    assert "ben" not in page.content.decode().split("<main", 1)[1]
    assert footprints.count_today(aiko) == 0


def test_a_deactivated_visitor_is_not_listed(aiko, ben):
    client_for(ben).get(page_of(aiko))
    ben.is_active = False
    ben.save()

    assert list(client_for(aiko).get(LIST).context["page"]) == []


def test_a_member_who_leaves_no_footprints_sees_none_and_is_told_why(aiko, ben):
    client_for(ben).get(page_of(aiko))
    aiko.leaves_footprints = False
    aiko.save()

    page = client_for(aiko).get(LIST)

    assert list(page.context["page"]) == []
    html = page.content.decode()
    assert "You have turned off footprints" in html
    assert 'href="/settings/profile/"' in html
    assert footprints.count_today(aiko) == 0


def test_the_nav_link_shows_todays_footprints(aiko, ben, chika):
    client_for(ben).get(page_of(aiko))
    client_for(chika).get(page_of(aiko))

    html = client_for(aiko).get(reverse("home")).content.decode()

    assert (
        '<a class="nav-secondary" href="/footprints/"'
        ' aria-describedby="footprint-badge-description"' in html
    )
    assert (
        '<span id="footprint-badge" class="badge" aria-hidden="true">2</span>' in html
    )
    assert "2 visitors today" in html


def test_the_footprints_page_is_paginated(aiko, member_factory):
    now = timezone.now()
    for n in range(footprints.PAGE_SIZE + 1):
        Footprint.objects.create(
            owner=aiko,
            visitor=member_factory(),
            day=today(),
            visited_at=now - timedelta(seconds=n),
        )
    client = client_for(aiko)
    first = client.get(LIST)
    second = client.get(LIST + "?page=2")

    assert len(first.context["page"].object_list) == footprints.PAGE_SIZE
    assert len(second.context["page"].object_list) == 1
    assert 'rel="next"' in first.content.decode()


def test_the_footprints_page_costs_the_same_queries_for_10_or_100_visitors(
    aiko, member_factory
):
    client = client_for(aiko)
    client.get(LIST)

    def add(count):
        now = timezone.now()
        Footprint.objects.bulk_create(
            Footprint(
                owner=aiko,
                visitor=member_factory(),
                day=today() - timedelta(days=n % 5),
                visited_at=now - timedelta(minutes=n),
            )
            for n in range(count)
        )

    add(10)
    with CaptureQueriesContext(connection) as few:
        assert client.get(LIST).status_code == 200
    add(90)
    with CaptureQueriesContext(connection) as many:
        assert client.get(LIST).status_code == 200
    assert len(few) == len(many)


# --- "Leave footprints" in the settings -----------------------------------------------


def test_the_settings_have_a_leave_footprints_checkbox(aiko):
    client = client_for(aiko)
    html = client.get(reverse("accounts:profile-edit")).content.decode()
    assert "Leave footprints" in html
    assert 'name="leaves_footprints"' in html
    assert "checked" in html.split('name="leaves_footprints"', 1)[1].split(">", 1)[0]

    client.post(reverse("accounts:profile-edit"), {"introduction": ""})
    aiko.refresh_from_db()
    assert aiko.leaves_footprints is False

    client.post(
        reverse("accounts:profile-edit"),
        {"introduction": "", "leaves_footprints": "on"},
    )
    aiko.refresh_from_db()
    assert aiko.leaves_footprints is True


# --- Deleting one's footprint ---------------------------------------------------------


def test_the_member_page_offers_to_delete_the_footprint_just_left(aiko, ben):
    html = client_for(ben).get(page_of(aiko)).content.decode()
    assert "Delete my footprint" in html
    assert f'action="{erase_url(aiko)}"' in html

    # None left (footprints off): no button.
    ben.leaves_footprints = False
    ben.save()
    assert (
        "Delete my footprint" not in client_for(ben).get(page_of(aiko)).content.decode()
    )
    # Nor on one's own page.
    assert (
        "Delete my footprint"
        not in client_for(aiko).get(page_of(aiko)).content.decode()
    )


def test_a_visitor_deletes_their_footprints_on_a_member(aiko, ben, chika):
    Footprint.objects.create(owner=aiko, visitor=ben, day=today() - timedelta(days=2))
    client = client_for(ben)
    client.get(page_of(aiko))
    client_for(chika).get(page_of(aiko))
    client.get(page_of(chika))

    response = client.post(erase_url(aiko), follow=True)

    assert response.redirect_chain == [(reverse("home"), 302)]
    assert (
        "Your footprint on aiko&#x27;s page was deleted."
        " You can delete 9 more this month."
    ) in response.content.decode()
    assert [r["visitor__nickname"] for r in rows(aiko)] == ["chika"]
    # Only ben's on aiko: his on chika stays.
    assert Footprint.objects.filter(owner=chika, visitor=ben).exists()
    assert FootprintErasure.objects.filter(visitor=ben).count() == 1


def test_deleting_pushes_the_owners_new_count(
    aiko, ben, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        footprints.broadcast, "send_html_to_member", lambda *a: sent.append(a)
    )
    client = client_for(ben)
    client.get(page_of(aiko))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(erase_url(aiko))

    [(member_id, html)] = sent
    assert member_id == aiko.pk
    assert 'id="footprint-badge"' in html and " hidden" in html
    assert "ben" not in html


def test_at_most_ten_deletions_a_month(aiko, ben):
    FootprintErasure.objects.bulk_create(
        FootprintErasure(visitor=ben) for _ in range(footprints.ERASURES_PER_MONTH)
    )
    client = client_for(ben)
    client.get(page_of(aiko))

    response = client.post(erase_url(aiko), follow=True)

    assert (
        "You have deleted footprints 10 times this month" in response.content.decode()
    )
    assert Footprint.objects.filter(owner=aiko, visitor=ben).count() == 1
    assert FootprintErasure.objects.filter(visitor=ben).count() == 10


def test_last_months_deletions_do_not_count(aiko, ben):
    last_month = footprints.month_start() - timedelta(seconds=1)
    FootprintErasure.objects.bulk_create(
        FootprintErasure(visitor=ben, erased_at=last_month) for _ in range(10)
    )
    FootprintErasure.objects.bulk_create(
        FootprintErasure(visitor=ben) for _ in range(9)
    )
    client = client_for(ben)
    client.get(page_of(aiko))

    client.post(erase_url(aiko))

    assert not Footprint.objects.exists()
    assert footprints.erasures_left(ben) == 0


def test_deleting_when_there_is_none_changes_nothing(aiko, ben):
    response = client_for(ben).post(erase_url(aiko), follow=True)

    assert (
        "You have left no footprint on aiko&#x27;s page." in response.content.decode()
    )
    assert not FootprintErasure.objects.exists()


def test_deleting_is_post_only_and_404_between_blocked_members(aiko, ben):
    client = client_for(ben)
    client.get(page_of(aiko))
    assert client.get(erase_url(aiko)).status_code == 405
    Block.objects.create(blocker=aiko, blocked=ben)
    assert client.post(erase_url(aiko)).status_code == 404
    assert client.__class__().post(erase_url(aiko)).status_code == 302
    assert Footprint.objects.count() == 1


# --- The purge ------------------------------------------------------------------------


def test_the_purge_deletes_footprints_older_than_30_days_and_old_erasures(
    aiko, ben, chika, capsys
):
    kept_day = today() - timedelta(days=footprints.DAYS_KEPT - 1)
    old_day = today() - timedelta(days=footprints.DAYS_KEPT)
    Footprint.objects.create(owner=aiko, visitor=ben, day=kept_day)
    Footprint.objects.create(owner=aiko, visitor=chika, day=old_day)
    Footprint.objects.create(owner=aiko, visitor=ben, day=old_day - timedelta(days=90))
    start = footprints.month_start()
    FootprintErasure.objects.create(visitor=ben, erased_at=start)
    FootprintErasure.objects.create(visitor=ben, erased_at=start - timedelta(seconds=1))

    call_command("purge_footprints")

    assert rows(aiko) == [{"visitor__nickname": "ben", "day": kept_day, "visits": 1}]
    assert list(FootprintErasure.objects.values_list("erased_at", flat=True)) == [start]
    assert "Deleted 2 footprints and 1 footprint erasures." in capsys.readouterr().out


def test_month_start_is_in_the_sites_time_zone(settings):
    # 2026-01-31 20:00 UTC is already 1 February in Tokyo.
    now = datetime.datetime(2026, 1, 31, 20, 0, tzinfo=datetime.UTC)
    start = footprints.month_start(now)
    assert start.isoformat() == "2026-02-01T00:00:00+09:00"


# --- Live: the owner's tabs, and no one else's ----------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_footprint_reaches_the_owners_sockets_only(
    aiko, ben, chika, open_socket
):
    aiko_tabs = [await open_socket(aiko), await open_socket(aiko)]
    ben_socket = await open_socket(ben)
    chika_socket = await open_socket(chika)

    client = await database_sync_to_async(client_for)(ben)
    response = await sync_to_async(client.get)(page_of(aiko))
    assert response.status_code == 200

    for tab in aiko_tabs:
        frame = await tab.receive_from(timeout=RECEIVE_TIMEOUT)
        assert "ben left a footprint" in frame
        assert 'lang="ja"' in frame
        assert 'id="live-notice" hx-swap-oob="innerHTML"' in frame
        assert (
            '<span id="footprint-badge" class="badge" aria-hidden="true"'
            ' hx-swap-oob="true">1</span>' in frame
        )
    for socket in (ben_socket, chika_socket):
        assert await socket.receive_nothing(timeout=NOTHING_TIMEOUT)


@pytest.mark.django_db(transaction=True)
async def test_no_push_when_no_footprint_is_left(aiko, ben, open_socket):
    await database_sync_to_async(Block.objects.create)(blocker=aiko, blocked=ben)
    aiko_socket = await open_socket(aiko)

    client = await database_sync_to_async(client_for)(ben)
    response = await sync_to_async(client.get)(page_of(aiko))

    assert response.status_code == 404
    assert await aiko_socket.receive_nothing(timeout=NOTHING_TIMEOUT)


def test_the_notice_is_rendered_once_for_every_language():
    html = footprints.notice_html("ben")
    assert html.count('class="in-lang"') == 2
    assert '<span lang="en" class="in-lang">ben left a footprint</span>' in html
    assert 'lang="ja"' in html


def test_the_notice_escapes_the_nickname():
    assert "<b>" not in footprints.notice_html("<b>x")


# --- The notification (presence/notifications.py) -----------------------------------


def test_a_footprint_notifies_the_owner_once_a_day_and_its_deletion_hides_it(
    aiko, ben, chika, django_capture_on_commit_callbacks
):
    from presence import notifications
    from presence.models import Notification

    client = client_for(ben)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(page_of(aiko))
    with django_capture_on_commit_callbacks(execute=True):
        client.get(page_of(aiko))

    found = Notification.objects.filter(kind="footprint")
    assert {(n.recipient_id, n.actor_id) for n in found} == {(aiko.pk, ben.pk)}
    assert {n.group_key for n in found} == {f"footprint:{today().isoformat()}"}
    assert notifications.unread_count(aiko) == 1
    assert notifications.unread_count(chika) == 0

    with django_capture_on_commit_callbacks(execute=True):
        client.post(erase_url(aiko))
    assert notifications.unread_count(aiko) == 0
