"""An event's page, its RSVP panel (GET and POST events:rsvp) and its attendee
list, through the real views: who may see them (404 as for no event at all),
what they show (times in the viewer's zone, a place only for members going,
the viewer's own answer and waitlist position, attendees named unless a
block hides them), answers through the real action, refusals shown at the
panel, and query counts that stay flat as answers grow."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Block
from communities.models import Membership
from events import actions
from events.models import RSVP
from tests.chat.conftest import HTMX, refused
from tests.conftest import client_for
from tests.events.conftest import make_event, members_of
from tests.events.live_fixtures import UNSEEING, unseeing_viewer

pytestmark = pytest.mark.django_db

Status = RSVP.Status


def page(client, event):
    return client.get(reverse("events:detail", kwargs={"event_id": event.pk}))


def rsvp_url(event) -> str:
    return reverse("events:rsvp", kwargs={"event_id": event.pk})


def post_answer(client, event, status, guests=None, htmx=True):
    data = {"status": status}
    if guests is not None:
        data["guests"] = guests
    return client.post(rsvp_url(event), data, **(HTMX if htmx else {}))


def text_of(response) -> str:
    """The answer's text without tags, spaces squeezed."""
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def pressed(response) -> list[str]:
    """The labels of the panel's buttons shown pressed."""
    return re.findall(
        r'<button type="submit" name="status" value="\w+" class="rsvp-button" '
        r'aria-pressed="true"[^>]*>([^<]+)</button>',
        response.content.decode(),
    )


def listed(response, event, list_name) -> list[int]:
    """The member ids named in one of the panel's lists, in order."""
    html = response.content.decode()
    match = re.search(
        rf'id="event-{event.pk}-{list_name}"[^>]*>(.*?)</[ou]l>', html, re.S
    )
    assert match, list_name
    return [
        int(member_id)
        for member_id in re.findall(
            rf'<li id="event-{event.pk}-rsvp-(\d+)"', match.group(1)
        )
    ]


# --- Who may see it -------------------------------------------------------------


def test_the_page_shows_the_event_to_a_member_of_its_community(
    club, event, ben, client
):
    event.description = "Three cafés, one afternoon."
    event.place = "Shimokitazawa station, north exit"
    event.save()
    response = page(client_for(ben), event)

    assert response.status_code == 200
    text = text_of(response)
    assert "<h1>Tasting walk</h1>" in response.content.decode()
    assert f'href="{club.get_absolute_url()}"' in response.content.decode()
    assert "Organised by aiko" in text
    assert "Three cafés, one afternoon." in text
    assert "Shimokitazawa station, north exit" in text
    assert "The place is shown to members going" not in text
    ics = reverse("events:ics", kwargs={"event_id": event.pk})
    assert f'<a href="{ics}">Add to calendar</a>' in response.content.decode()
    for label in ("Going", "Maybe", "Not going"):
        assert f">{label}</button>" in response.content.decode()
    assert "Withdraw" not in text
    assert "You have not answered yet." in text
    # Its socket stream is asked for.
    assert f'ws-connect="/ws/live/?event={event.pk}&lang=en"' in (
        response.content.decode()
    )


@pytest.mark.parametrize("who", UNSEEING)
def test_the_page_and_the_panel_are_not_found_for_one_who_may_not_see_it(event, who):
    client = client_for(unseeing_viewer(event, who))
    attendees = reverse("events:attendees", kwargs={"event_id": event.pk})

    assert page(client, event).status_code == 404
    assert client.get(rsvp_url(event), **HTMX).status_code == 404
    assert client.get(attendees).status_code == 404
    assert post_answer(client, event, "going").status_code == 404
    assert not RSVP.objects.filter(event=event).exists()


def test_a_missing_event_is_not_found(club, ben):
    client = client_for(ben)
    assert client.get("/events/999999/").status_code == 404
    assert client.get("/events/999999/rsvp/", **HTMX).status_code == 404


def test_the_times_are_shown_in_the_viewers_zone(club, ben):
    starts = timezone.make_aware(
        timezone.datetime(2031, 4, 12, 10, 0), ZoneInfo("Asia/Tokyo")
    )
    event = make_event(club, starts_at=starts, ends_at=starts + timedelta(hours=2))
    ben.time_zone = "Europe/London"
    ben.save()

    text = text_of(page(client_for(ben), event))

    # 10:00 in Tokyo is 02:00 in London (summer time).
    assert "12 Apr 2031, 02:00 – 12 Apr 2031, 04:00 (Europe/London)" in text


# --- The place shown only to members going -------------------------------------


def test_a_place_for_members_going_is_hidden_from_the_others(club, ben, chika):
    event = make_event(club, place="Bear Pond, 2F", place_going_only=True)
    actions.answer(ben, event, Status.GOING)
    actions.answer(chika, event, Status.MAYBE)

    to_chika = text_of(page(client_for(chika), event))
    assert "Bear Pond" not in to_chika
    assert "The place is shown to members going" in to_chika
    assert "Bear Pond" not in text_of(client_for(chika).get(rsvp_url(event), **HTMX))

    to_ben = text_of(page(client_for(ben), event))
    assert "Bear Pond, 2F" in to_ben
    # The organiser sees it too, without answering.
    assert "Bear Pond, 2F" in text_of(page(client_for(club.owner), event))


def test_going_shows_the_place_in_the_answer(club, chika):
    event = make_event(club, place="Bear Pond, 2F", place_going_only=True)
    response = post_answer(client_for(chika), event, "going")
    assert "Bear Pond, 2F" in text_of(response)


# --- Organiser tools -------------------------------------------------------------


def test_organiser_tools_are_linked_for_those_who_may_run_the_event(club, event, ben):
    tools = [
        reverse(f"events:{name}", kwargs={"event_id": event.pk})
        for name in ("edit", "cancel", "close", "message", "invite", "attendees-csv")
    ]
    to_aiko = page(client_for(club.owner), event).content.decode()
    to_ben = page(client_for(ben), event).content.decode()
    for url in tools:
        assert f'href="{url}"' in to_aiko, url
        assert f'href="{url}"' not in to_ben, url
    Membership.objects.filter(community=club, member=ben).update(
        role=Membership.Role.MODERATOR
    )
    to_moderator = page(client_for(ben), event).content.decode()
    assert all(f'href="{url}"' in to_moderator for url in tools)


# --- Status lines ------------------------------------------------------------------


def test_a_cancelled_or_closed_event_says_so_and_its_buttons_are_off(club, ben):
    cancelled = make_event(club, cancelled_at=timezone.now())
    closed = make_event(club, rsvps_closed_at=timezone.now())
    past_deadline = make_event(club, rsvp_deadline=timezone.now() - timedelta(hours=1))
    open_ = make_event(club, rsvp_deadline=timezone.now() + timedelta(days=1))
    client = client_for(ben)

    for event, line in (
        (cancelled, "Cancelled"),
        (closed, "RSVPs closed"),
        (past_deadline, "The RSVP deadline for this event has passed."),
    ):
        response = page(client, event)
        assert line in text_of(response), line
        going = re.search(r'<button[^>]*value="going"[^>]*>', response.content.decode())
        assert " disabled" in going.group(0), line
    response = page(client, open_)
    assert "RSVP deadline" in text_of(response)
    going = re.search(r'<button[^>]*value="going"[^>]*>', response.content.decode())
    assert " disabled" not in going.group(0)


# --- Answering -----------------------------------------------------------------------


def test_going_through_htmx_answers_the_panel_and_records_the_answer(club, event, ben):
    response = post_answer(client_for(ben), event, "going")

    assert response.status_code == 200
    assert RSVP.objects.get(event=event, member=ben).status == Status.GOING
    assert "You are going" in text_of(response)
    assert pressed(response) == ["Going"]
    assert listed(response, event, "going") == [ben.pk]
    assert "1 going · 0 maybe" in text_of(response)
    assert ">Withdraw</button>" in response.content.decode()
    # The viewer's own panel, not a page.
    assert "<html" not in response.content.decode()


def test_answering_without_javascript_goes_back_to_the_page(club, event, ben):
    response = post_answer(client_for(ben), event, "maybe", htmx=False)
    assert response.status_code == 302
    assert response["Location"] == event.get_absolute_url()
    assert RSVP.objects.get(event=event, member=ben).status == Status.MAYBE
    # And GET without htmx is the page.
    response = client_for(ben).get(rsvp_url(event))
    assert response.status_code == 302


def test_a_full_event_puts_the_member_on_the_waitlist_with_their_position(
    club, ben, chika, daichi
):
    event = make_event(club, capacity=1)
    actions.answer(ben, event, Status.GOING)
    actions.answer(chika, event, Status.GOING)

    response = post_answer(client_for(daichi), event, "going")

    text = text_of(response)
    assert "You are number 2 on the waitlist" in text
    assert pressed(response) == ["Going"]
    assert "1 going · 0 maybe · 1 of 1 seats taken · 2 waiting" in text
    assert listed(response, event, "waitlist") == [chika.pk, daichi.pk]
    # Positions are the viewer's own: no one else's is shown.
    assert "number 1" not in text


def test_withdrawing_takes_the_answer_back_and_promotes_the_waitlist(club, ben, chika):
    event = make_event(club, capacity=1)
    actions.answer(ben, event, Status.GOING)
    actions.answer(chika, event, Status.GOING)

    response = post_answer(client_for(ben), event, "withdraw")

    assert not RSVP.objects.filter(event=event, member=ben).exists()
    assert "You have not answered yet." in text_of(response)
    assert pressed(response) == []
    assert listed(response, event, "going") == [chika.pk]
    assert "You are going" in text_of(client_for(chika).get(rsvp_url(event), **HTMX))


def test_guests_are_chosen_with_the_answer(club, ben):
    event = make_event(club, guests_allowed=2)
    response = post_answer(client_for(ben), event, "going", guests=2)
    html = response.content.decode()
    assert RSVP.objects.get(event=event, member=ben).guests == 2
    assert "You are going with 2 guests" in text_of(response)
    assert f'<label for="event-{event.pk}-guests">Guests</label>' in html
    assert '<option value="2" selected>2</option>' in html
    # An event without guests offers no choice.
    without = page(client_for(ben), make_event(club)).content.decode()
    assert ">Guests</label>" not in without


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"status": "yes"}, "Answer Going, Maybe or Not going."),
        ({}, "Answer Going, Maybe or Not going."),
        ({"status": "going", "guests": "many"}, "“guests” must be a whole number"),
        ({"status": "going", "guests": "3"}, "“guests” must be a whole number"),
    ],
)
def test_bad_input_is_refused_at_the_panel_and_changes_nothing(
    club, event, ben, data, reason
):
    response = client_for(ben).post(rsvp_url(event), data, **HTMX)
    status, text = refused(response)
    assert status == 400
    assert text.startswith(reason)
    assert not RSVP.objects.filter(event=event).exists()


def test_a_refusal_of_the_action_is_shown_at_the_panel(club, ben):
    event = make_event(club, rsvps_closed_at=timezone.now())
    status, text = refused(post_answer(client_for(ben), event, "going"))
    assert status == 400
    assert text == "The organiser closed RSVPs for this event."
    assert not RSVP.objects.filter(event=event).exists()

    # Without JavaScript: back to the page, which says why.
    client = client_for(ben)
    response = post_answer(client, event, "going", htmx=False)
    assert response.status_code == 302
    followed = client.get(response["Location"])
    assert "The organiser closed RSVPs for this event." in text_of(followed)


def test_guests_beyond_what_the_event_allows_are_refused(club, ben):
    event = make_event(club, guests_allowed=1)
    status, text = refused(post_answer(client_for(ben), event, "going", guests=2))
    assert status == 400
    assert "at most 1 guest" in text
    assert not RSVP.objects.filter(event=event).exists()


def test_the_panel_answers_only_post_and_get(club, event, ben):
    response = client_for(ben).put(rsvp_url(event), **HTMX)
    assert response.status_code == 405


# --- Blocks: counted, never named -------------------------------------------


def test_a_member_hidden_by_a_block_is_counted_but_not_named(
    club, event, ben, chika, daichi
):
    for member in (ben, chika, daichi):
        actions.answer(member, event, Status.GOING)
    Block.objects.create(blocker=ben, blocked=chika)
    attendees = reverse("events:attendees", kwargs={"event_id": event.pk})

    for viewer, hidden in ((ben, chika), (chika, ben), (daichi, None)):
        client = client_for(viewer)
        response = page(client, event)
        everyone = {ben.pk, chika.pk, daichi.pk} - {getattr(hidden, "pk", None)}
        assert set(listed(response, event, "going")) == everyone, viewer
        assert "3 going · 0 maybe" in text_of(response)
        answer = client.get(rsvp_url(event), **HTMX)
        assert set(listed(answer, event, "going")) == everyone
        names = text_of(client.get(attendees))
        if hidden is not None:
            assert hidden.nickname not in names, viewer
        assert viewer.nickname in names


# --- Lists and query counts ------------------------------------------------


def test_the_lists_are_in_order_and_the_waitlist_in_arrival_order(club, ben):
    event = make_event(club, capacity=2)
    people = members_of(club, 5)
    for member in people:
        actions.answer(member, event, Status.GOING)
    actions.answer(ben, event, Status.MAYBE)

    response = page(client_for(ben), event)

    assert listed(response, event, "going") == [people[0].pk, people[1].pk]
    assert listed(response, event, "waitlist") == [m.pk for m in people[2:]]
    assert listed(response, event, "maybe") == [ben.pk]
    html = response.content.decode()
    assert 'data-list="waitlist" data-seq="1"' in html
    assert "All attendees" in html


def test_the_event_page_shows_at_most_fifty_going(club, ben):
    event = make_event(club)
    people = members_of(club, 55)
    for member in people:
        actions.answer(member, event, Status.GOING)
    response = page(client_for(ben), event)
    assert listed(response, event, "going") == [m.pk for m in people[:50]]
    assert "55 going" in text_of(response)


@pytest.mark.parametrize("view", ["detail", "rsvp", "attendees"])
def test_query_counts_stay_flat_as_answers_grow(club, ben, view):
    event = make_event(club, capacity=3, guests_allowed=1)
    url = reverse(f"events:{view}", kwargs={"event_id": event.pk})
    headers = HTMX if view == "rsvp" else {}
    client = client_for(ben)
    actions.answer(ben, event, Status.GOING)

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, **headers)
        assert response.status_code == 200
        return len(captured)

    def grow(prefix, count_):
        people = members_of(club, count_, prefix=prefix)
        for i, member in enumerate(people):
            status = (Status.GOING, Status.MAYBE, Status.NOT_GOING)[i % 3]
            actions.answer(member, event, status, guests=i % 2 if i % 3 == 0 else 0)
        Block.objects.create(blocker=people[0], blocked=ben)

    grow("few", 4)
    few = count()
    grow("many", 60)
    assert count() == few
