"""The events' pages (events/views.py): the event form, the Events list, its
past and month views, the community page's events, the organiser's tools, and
who may open each (an event one may not see is "not found", 404; an organiser
tool one may see but not use is refused, 403, and changes nothing)."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.actions import make_friends
from communities.models import JoinPolicy, Membership, TopicPolicy
from events import actions
from events.models import RSVP, Event, EventMessage
from presence.models import Notification
from tests.conftest import MemberFactory, client_for
from tests.events.conftest import make_event, members_of
from tests.events.pages_fixtures import (  # noqa: F401 (fixtures)
    UNSEEING,
    cast_fixture,
    clients_fixture,
    labelled_controls,
    links_named,
    to_login,
)
from tests.factories import CommunityFactory, coffee_club

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LATER = timezone.now().year + 2


def form_data(**fields) -> dict:
    """A valid event form as a browser sends it (times in the viewer's zone)."""
    return {
        "title": "Saturday tasting walk",
        "description": "Three roasters, one afternoon.",
        "starts_at": f"{LATER}-07-01T18:00",
        "ends_at": f"{LATER}-07-01T20:00",
        "place": "Shimokitazawa station, west exit",
        "capacity": "10",
        "rsvp_deadline": "",
        "guests_allowed": "1",
        **fields,
    }


def create_url(community) -> str:
    return reverse("events:create", kwargs={"community_id": community.pk})


def url(name: str, event) -> str:
    return reverse(f"events:{name}", kwargs={"event_id": event.pk})


# --- The event form ---------------------------------------------------------------


def test_the_event_form_names_its_controls_as_members_find_them(club, aiko):
    html = client_for(aiko).get(create_url(club)).text

    controls = labelled_controls(html)
    for label, kind in [
        ("Title", "text"),
        ("Starts", "datetime-local"),
        ("Ends", "datetime-local"),
        ("Place", "text"),
        ("Capacity", "number"),
        ("RSVP deadline", "datetime-local"),
        ("Show the place only to members going", "checkbox"),
    ]:
        assert controls[label].get("type") == kind, label
    assert controls["Description"]["tag"] == "textarea"
    guests = controls["Guests each member may bring"]
    assert guests["tag"] == "select"
    assert ">None</option>" in html and ">+1</option>" in html
    assert ">+2</option>" in html
    assert "Times are in your time zone, Asia/Tokyo." in html


def test_a_member_creates_an_event_with_times_read_in_their_zone(club, ben):
    ben.time_zone = "Europe/London"
    ben.save()

    response = client_for(ben).post(
        create_url(club),
        form_data(rsvp_deadline=f"{LATER}-06-30T12:00"),
        follow=True,
    )

    event = Event.objects.get()
    assert response.redirect_chain == [(event.get_absolute_url(), 302)]
    assert "The event was created." in response.text
    # 18:00 in London in July is 17:00 UTC (summer time).
    assert event.starts_at == datetime(LATER, 7, 1, 17, 0, tzinfo=UTC)
    assert event.ends_at == datetime(LATER, 7, 1, 19, 0, tzinfo=UTC)
    assert event.rsvp_deadline == datetime(LATER, 6, 30, 11, 0, tzinfo=UTC)
    assert event.time_zone == "Europe/London"
    assert (event.organiser, event.community) == (ben, club)
    assert (event.title, event.capacity, event.guests_allowed) == (
        "Saturday tasting walk",
        10,
        1,
    )
    assert event.place == "Shimokitazawa station, west exit"
    assert not event.place_going_only


def test_times_are_read_in_tokyo_unless_the_member_chose_another_zone(club, aiko):
    client_for(aiko).post(create_url(club), form_data(capacity=""))

    event = Event.objects.get()
    assert event.starts_at == datetime(LATER, 7, 1, 9, 0, tzinfo=UTC)
    assert event.time_zone == "Asia/Tokyo"
    assert event.capacity is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"ends_at": f"{LATER}-07-01T17:59"},
            "An event cannot end before it starts.",
        ),
        (
            {"rsvp_deadline": f"{LATER}-07-01T20:01"},
            "The RSVP deadline cannot be after the event ends.",
        ),
        ({"capacity": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"capacity": "-3"}, "Ensure this value is greater than or equal to 1."),
        ({"capacity": "many"}, "Enter a whole number."),
        ({"title": "   "}, "This field is required."),
        ({"starts_at": "tomorrow"}, "Enter a valid date/time."),
        ({"starts_at": "0001-01-01T00:00"}, "Enter a date between the years"),
        ({"ends_at": "9999-12-31T23:59"}, "Enter a date between the years"),
        ({"guests_allowed": "3"}, "Select a valid choice."),
        (
            {
                "starts_at": f"{LATER - 3}-07-01T18:00",
                "ends_at": f"{LATER - 3}-07-01T20:00",
            },
            "This event would be over already.",
        ),
    ],
)
def test_a_bad_event_form_says_what_is_wrong_and_creates_nothing(
    club, aiko, fields, error
):
    response = client_for(aiko).post(create_url(club), form_data(**fields))

    assert response.status_code == 200
    assert error in response.text
    assert not Event.objects.exists()


def test_a_time_the_clocks_skip_in_the_members_zone_is_refused(club, aiko):
    aiko.time_zone = "Europe/London"
    aiko.save()
    # The last Sunday of March: London's clocks go from 01:00 to 02:00.
    march = datetime(LATER, 3, 31)
    sunday = march - timedelta(days=(march.weekday() + 1) % 7)
    skipped = sunday.strftime("%Y-%m-%dT01:30")

    response = client_for(aiko).post(
        create_url(club), form_data(starts_at=skipped, ends_at=f"{LATER}-07-01T20:00")
    )

    assert response.status_code == 200
    assert "couldn’t be interpreted in time zone Europe/London" in response.text
    assert not Event.objects.exists()


def test_a_community_one_may_not_see_has_no_event_form(aiko, ben):
    secret = CommunityFactory(owner=aiko, join_policy=JoinPolicy.SECRET)

    for method in ("get", "post"):
        response = getattr(client_for(ben), method)(create_url(secret), form_data())
        assert response.status_code == 404
    assert not Event.objects.exists()


def test_one_who_is_not_a_member_is_refused_the_event_form(club, member_factory):
    outsider = client_for(member_factory(nickname="eri"))

    for method in ("get", "post"):
        response = getattr(outsider, method)(create_url(club), form_data())
        assert response.status_code == 403
        assert "Only members of this community can create events." in response.text
    assert not Event.objects.exists()


def test_when_only_moderators_create_events_a_member_is_refused(aiko, ben):
    club = coffee_club(aiko, ben, event_policy=TopicPolicy.MODERATORS)

    for method in ("get", "post"):
        response = getattr(client_for(ben), method)(create_url(club), form_data())
        assert response.status_code == 403
        assert "Only the owner and moderators can create events here." in response.text
    assert not Event.objects.exists()

    assert client_for(aiko).post(create_url(club), form_data()).status_code == 302
    assert Event.objects.get().organiser == aiko


def test_a_refusal_to_an_htmx_request_names_its_status_in_a_header(aiko, ben):
    club = coffee_club(aiko, ben, event_policy=TopicPolicy.MODERATORS)

    response = client_for(ben).post(create_url(club), form_data(), **HTMX)

    assert response.status_code == 200
    assert response["X-Refused"] == "403"
    assert not Event.objects.exists()


def test_the_edit_form_shows_the_times_in_the_editors_zone(club, aiko, ben):
    event = make_event(
        club, starts_at=datetime(LATER, 7, 1, 9, 0, tzinfo=UTC), time_zone="Asia/Tokyo"
    )
    Membership.objects.filter(community=club, member=ben).update(
        role=Membership.Role.MODERATOR
    )
    ben.time_zone = "Europe/London"
    ben.save()

    tokyo = client_for(aiko).get(url("edit", event)).text
    london = client_for(ben).get(url("edit", event)).text

    assert f'value="{LATER}-07-01T18:00"' in tokyo
    assert f'value="{LATER}-07-01T10:00"' in london


def test_the_organiser_edits_an_event_and_its_zone_stays(club, aiko, ben):
    event = make_event(club, starts_at=datetime(LATER, 7, 1, 9, 0, tzinfo=UTC))
    ben.time_zone = "Europe/London"
    ben.save()
    Membership.objects.filter(community=club, member=ben).update(
        role=Membership.Role.MODERATOR
    )

    response = client_for(ben).post(
        url("edit", event),
        form_data(
            title="Sunday tasting walk",
            starts_at=f"{LATER}-07-01T10:00",
            ends_at=f"{LATER}-07-01T13:00",
            capacity="4",
        ),
        follow=True,
    )

    assert "The event was saved." in response.text
    event.refresh_from_db()
    assert event.title == "Sunday tasting walk"
    assert event.starts_at == datetime(LATER, 7, 1, 9, 0, tzinfo=UTC)
    assert event.ends_at == datetime(LATER, 7, 1, 12, 0, tzinfo=UTC)
    assert event.capacity == 4
    assert event.time_zone == "Asia/Tokyo"


def test_saving_the_form_unchanged_tells_no_one_of_a_new_time(club, aiko, ben):
    # Stored with seconds, shown to the minute.
    start = datetime(LATER, 7, 1, 9, 0, 42, 123456, tzinfo=UTC)
    event = make_event(club, starts_at=start, ends_at=start + timedelta(hours=2))
    actions.answer(ben, event, "going")
    client = client_for(aiko)
    html = client.get(url("edit", event)).text
    shown = dict(re.findall(r'name="(starts_at|ends_at)" value="([^"]*)"', html))

    response = client.post(
        url("edit", event),
        form_data(
            **shown,
            title=event.title,
            description="",
            place="",
            capacity="",
            guests_allowed="0",
        ),
    )

    assert response.status_code == 302

    event.refresh_from_db()
    assert event.starts_at == start
    assert not Notification.objects.filter(kind="event_changed").exists()


def test_a_bad_edit_changes_nothing(club, aiko):
    event = make_event(club, title="Before")

    response = client_for(aiko).post(
        url("edit", event),
        form_data(title="After", starts_at=f"{LATER}-07-02T10:00"),
    )

    assert response.status_code == 200
    assert "An event cannot end before it starts." in response.text
    event.refresh_from_db()
    assert event.title == "Before"


def test_a_cancelled_event_cannot_be_edited(club, aiko):
    event = make_event(club, title="Before", cancelled_at=timezone.now())

    response = client_for(aiko).post(url("edit", event), form_data(title="After"))

    assert "A cancelled event cannot be edited." in response.text
    event.refresh_from_db()
    assert event.title == "Before"


def test_the_edit_page_carries_the_organisers_tools(club, aiko):
    event = make_event(club)

    html = client_for(aiko).get(url("edit", event)).text

    assert links_named(html, "Message everyone going") == [url("message", event)]
    assert links_named(html, "Invite friends") == [url("invite", event)]
    assert links_named(html, "Export attendees (CSV)") == [url("attendees-csv", event)]
    assert links_named(html, "Cancel event") == [url("cancel", event)]
    assert f'href="{url("close", event)}"' in html


# --- The Events list ----------------------------------------------------------------


def _titles(html: str) -> list[str]:
    import re

    return re.findall(r'class="event-title" href="[^"]*">([^<]*)</a>', html)


def test_the_events_page_lists_upcoming_events_of_my_communities_soonest_first(
    club, aiko, ben, cast
):
    now = timezone.now()
    make_event(club, title="Later", starts_at=now + timedelta(days=9))
    make_event(club, title="Sooner", starts_at=now + timedelta(days=2))
    make_event(
        club,
        title="Under way",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )
    make_event(club, title="Called off", cancelled_at=now)
    make_event(
        club,
        title="Over",
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(days=3) + timedelta(hours=2),
    )
    elsewhere = CommunityFactory()
    make_event(elsewhere, title="Not my community")
    make_event(club, organiser=cast["blocked"], title="By a member aiko blocked")

    html = client_for(aiko).get("/events/").text

    assert _titles(html) == ["Under way", "Sooner", "Called off", "Later"]
    cancelled = html.split("Called off", 1)[1].split("</li>", 1)[0]
    assert ">Cancelled</span>" in cancelled
    assert "Shimokita Coffee Club" in html
    assert "Not my community" not in html
    assert "By a member aiko blocked" not in html


def test_the_events_page_shows_each_start_in_the_members_zone(club, aiko, ben):
    make_event(club, title="Zone walk", starts_at=datetime(LATER, 7, 1, 9, tzinfo=UTC))
    ben.time_zone = "Europe/London"
    ben.save()

    in_tokyo = client_for(aiko).get("/events/").text
    in_london = client_for(ben).get("/events/").text

    assert f">1 Jul {LATER}, 18:00</time>" in in_tokyo
    assert f">1 Jul {LATER}, 10:00</time>" in in_london


def test_each_listed_event_is_a_link_named_by_its_title(club, aiko):
    event = make_event(club, title="Tasting walk", capacity=10, guests_allowed=1)
    actions.answer(aiko, event, "going", 1)

    html = client_for(aiko).get("/events/").text

    assert links_named(html, "Tasting walk") == [event.get_absolute_url()]
    assert "1 going" in html
    assert "2 of 10 seats taken" in html
    assert "You are going" in html


def test_past_events_stay_readable_most_recent_first(club, aiko):
    now = timezone.now()
    for days, title in [(30, "Long ago"), (2, "Recently"), (10, "A while ago")]:
        start = now - timedelta(days=days)
        make_event(
            club, title=title, starts_at=start, ends_at=start + timedelta(hours=2)
        )
    make_event(club, title="Upcoming")

    html = client_for(aiko).get("/events/?when=past").text

    assert _titles(html) == ["Recently", "A while ago", "Long ago"]
    assert "<h1>Past events</h1>" in html


def test_the_events_page_says_when_there_are_none(aiko, club):
    assert "No upcoming events in your communities." in (
        client_for(aiko).get("/events/").text
    )
    assert "No past events in your communities." in (
        client_for(aiko).get("/events/?when=past").text
    )


def test_the_past_view_pages_keep_to_past_events(club, aiko):
    now = timezone.now()
    for day in range(25):
        start = now - timedelta(days=day + 1)
        make_event(club, title=f"Past {day}", starts_at=start, ends_at=start)

    html = client_for(aiko).get("/events/?when=past").text
    second = client_for(aiko).get("/events/?when=past&page=2").text

    assert 'href="?when=past&amp;page=2"' in html
    assert _titles(second) == [f"Past {day}" for day in range(20, 25)]


def test_the_events_page_reads_the_same_number_of_queries_however_many_events(
    club, aiko
):
    client = client_for(aiko)

    def queries_for(count: int) -> int:
        for i in range(count):
            event = make_event(club, title=f"Event {i}", capacity=50)
            for member in members_of(club, 3, prefix=f"e{count}x{i}x"):
                actions.answer(member, event, "going")
        actions.answer(aiko, event, "maybe")
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/events/").status_code == 200
        with CaptureQueriesContext(connection) as month_queries:
            this_month = timezone.localdate().strftime("%Y-%m")
            assert client.get(f"/events/?month={this_month}").status_code == 200
        return len(queries), len(month_queries)

    assert queries_for(2) == queries_for(12)


# --- The month view -----------------------------------------------------------------


def test_the_month_view_puts_each_event_on_its_day_in_my_zone(club, aiko, ben):
    # 00:30 on 1 July in Tokyo is still 30 June in London.
    make_event(
        club,
        title="Midnight coffee",
        starts_at=datetime(LATER, 6, 30, 15, 30, tzinfo=UTC),
    )
    ben.time_zone = "Europe/London"
    ben.save()

    tokyo_july = client_for(aiko).get(f"/events/?month={LATER}-07").text
    tokyo_june = client_for(aiko).get(f"/events/?month={LATER}-06").text
    london_june = client_for(ben).get(f"/events/?month={LATER}-06").text

    assert f"<caption>July {LATER}</caption>" in tokyo_july
    assert "Midnight coffee" in _day_cell(tokyo_july, 1)
    assert "00:30" in _day_cell(tokyo_july, 1)
    assert "Midnight coffee" not in tokyo_june
    assert "Midnight coffee" in _day_cell(london_june, 30)
    assert "16:30" in _day_cell(london_june, 30)


def _day_cell(html: str, day: int) -> str:
    import re

    for cell in re.findall(r'<td class="day[^"]*"[^>]*>(.*?)</td>', html, re.S):
        label = re.search(r'<span class="day-label">.*?</span> (\d+)</span>', cell)
        if label and int(label[1]) == day:
            return cell
    raise AssertionError(f"no cell for day {day}")


def test_the_month_view_is_a_table_with_a_caption_and_links_to_its_neighbours(
    aiko, club
):
    html = client_for(aiko).get(f"/events/?month={LATER}-01").text

    assert '<table class="month-grid">' in html
    assert f"<caption>January {LATER}</caption>" in html
    assert html.count('<th scope="col">') == 7
    assert f'href="?month={LATER - 1}-12" rel="prev">Previous month</a>' in html
    assert f'href="?month={LATER}-02" rel="next">Next month</a>' in html
    assert "No events this month." in html


def test_the_month_is_written_in_the_members_language(aiko, club):
    client = client_for(aiko)
    client.post("/i18n/setlang/", {"language": "ja", "next": "/"})

    html = client.get(f"/events/?month={LATER}-07").text

    assert f"<caption>{LATER}年7月</caption>" in html


def test_an_event_over_several_days_shows_on_each_of_them(club, aiko):
    make_event(
        club,
        title="Coffee camp",
        starts_at=datetime(LATER, 8, 30, 1, 0, tzinfo=UTC),
        ends_at=datetime(LATER, 9, 1, 15, 0, tzinfo=UTC),
    )

    august = client_for(aiko).get(f"/events/?month={LATER}-08").text
    september = client_for(aiko).get(f"/events/?month={LATER}-09").text

    assert "Coffee camp" in _day_cell(august, 30)
    assert "Coffee camp" in _day_cell(august, 31)
    assert "continues" in _day_cell(august, 31)
    assert "Coffee camp" in _day_cell(september, 1)
    assert "Coffee camp" not in _day_cell(september, 2)


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "0001-01", "9999-12", "x"])
def test_a_month_that_is_not_one_is_a_clear_400(aiko, month):
    response = client_for(aiko).get(f"/events/?month={month}")

    assert response.status_code == 400
    assert "“month” must be a year and month such as 2026-10." in response.text


# --- The community page and the navigation -----------------------------------------


def test_the_community_page_lists_its_upcoming_events_as_links(club, aiko, cast):
    event = make_event(club, title="Saturday tasting walk")
    make_event(club, organiser=cast["blocked"], title="Hidden from aiko")
    start = timezone.now() - timedelta(days=2)
    make_event(club, title="Over already", starts_at=start, ends_at=start)

    html = client_for(aiko).get(club.get_absolute_url()).text

    assert links_named(html, "Saturday tasting walk") == [event.get_absolute_url()]
    assert "Hidden from aiko" not in html
    assert "Over already" not in html
    assert links_named(html, "New event") == [create_url(club)]


def test_the_community_page_offers_new_event_only_to_who_may_create_one(aiko, ben):
    club = coffee_club(aiko, ben, event_policy=TopicPolicy.MODERATORS)
    make_event(club, title="Tasting walk")

    ben_sees = client_for(ben).get(club.get_absolute_url()).text
    outsider = client_for(MemberFactory(nickname="eri"))
    outsider_sees = outsider.get(club.get_absolute_url()).text

    assert links_named(ben_sees, "Tasting walk")
    assert not links_named(ben_sees, "New event")
    assert "Tasting walk" not in outsider_sees
    assert not links_named(outsider_sees, "New event")
    assert links_named(client_for(aiko).get(club.get_absolute_url()).text, "New event")


def test_every_page_has_an_events_link_in_its_navigation(aiko):
    html = client_for(aiko).get("/").text
    nav = html.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]

    assert links_named(nav, "Events") == ["/events/"]
    events_page = client_for(aiko).get("/events/").text
    assert (
        '<a class="nav-secondary" href="/events/" aria-current="page">Events</a>'
        in events_page
    )


def test_the_community_form_says_who_may_create_events(aiko, club):
    client = client_for(aiko)
    edit = reverse("communities:edit", kwargs={"community_id": club.pk})
    html = client.get(edit).text
    assert "<legend>Who may create events</legend>" in html

    response = client.post(
        edit,
        {
            "name": club.name,
            "description": "",
            "category": club.category,
            "join_policy": club.join_policy,
            "topic_policy": club.topic_policy,
            "event_policy": TopicPolicy.MODERATORS,
        },
    )

    assert response.status_code == 302
    club.refresh_from_db()
    assert club.event_policy == TopicPolicy.MODERATORS
    # A form from before events (no event_policy) keeps the policy.
    client.post(
        edit,
        {
            "name": club.name,
            "category": club.category,
            "join_policy": club.join_policy,
            "topic_policy": club.topic_policy,
        },
    )
    club.refresh_from_db()
    assert club.event_policy == TopicPolicy.MODERATORS


def test_a_new_community_may_keep_events_to_its_moderators(aiko):
    client_for(aiko).post(
        reverse("communities:create"),
        {
            "name": "Film cameras",
            "category": "other",
            "join_policy": "open",
            "topic_policy": "members",
            "event_policy": "moderators",
        },
    )

    from communities.models import Community

    assert Community.objects.get(name="Film cameras").event_policy == "moderators"


# --- The organiser's tools ----------------------------------------------------------


def test_cancelling_asks_first_then_cancels_and_tells_everyone_who_answered(
    club, aiko, ben, chika
):
    event = make_event(club)
    actions.answer(ben, event, "going")
    actions.answer(chika, event, "maybe")
    client = client_for(aiko)

    confirm = client.get(url("cancel", event))
    assert "Cancel “Tasting walk”?" in confirm.text
    event.refresh_from_db()
    assert not event.is_cancelled

    response = client.post(url("cancel", event), follow=True)

    assert "The event was cancelled. Everyone who answered was told." in response.text
    event.refresh_from_db()
    assert event.is_cancelled
    told = Notification.objects.filter(kind="event_cancelled", target_id=event.pk)
    assert set(told.values_list("recipient__nickname", flat=True)) == {"ben", "chika"}


def test_closing_rsvps_early(club, aiko):
    event = make_event(club)
    client = client_for(aiko)

    assert "Close RSVPs for “Tasting walk” now?" in client.get(url("close", event)).text
    event.refresh_from_db()
    assert event.rsvps_closed_at is None

    response = client.post(url("close", event), follow=True)

    assert "RSVPs are closed. No one can answer now." in response.text
    event.refresh_from_db()
    assert event.rsvps_closed_at is not None


def test_an_htmx_close_reloads_the_event_page(club, aiko):
    event = make_event(club)

    response = client_for(aiko).post(url("close", event), **HTMX)

    assert response.status_code == 204
    assert response["HX-Redirect"] == event.get_absolute_url()


def test_a_refused_write_by_htmx_is_a_refusal_and_otherwise_a_flash(club, aiko):
    start = timezone.now() - timedelta(days=2)
    event = make_event(club, starts_at=start, ends_at=start + timedelta(hours=1))

    htmx = client_for(aiko).post(url("cancel", event), **HTMX)
    plain = client_for(aiko).post(url("cancel", event), follow=True)

    assert htmx["X-Refused"] == "400"
    assert htmx.text == "This event has ended."
    assert "This event has ended." in plain.text
    event.refresh_from_db()
    assert not event.is_cancelled


def test_messaging_everyone_going(club, aiko, ben, chika, daichi):
    event = make_event(club)
    actions.answer(ben, event, "going")
    actions.answer(chika, event, "going")
    actions.answer(daichi, event, "maybe")
    client = client_for(aiko)
    form = client.get(url("message", event)).text
    assert labelled_controls(form)["Message"]["tag"] == "textarea"

    response = client.post(
        url("message", event), {"body": "Meet at the west exit."}, follow=True
    )

    assert "Your message was sent to everyone going." in response.text
    message = EventMessage.objects.get()
    assert (message.body, message.author, message.event) == (
        "Meet at the west exit.",
        aiko,
        event,
    )
    told = Notification.objects.filter(kind="event_message", target_id=message.pk)
    assert set(told.values_list("recipient__nickname", flat=True)) == {"ben", "chika"}


def test_an_empty_message_is_refused_and_sends_nothing(club, aiko, ben):
    event = make_event(club)
    actions.answer(ben, event, "going")

    response = client_for(aiko).post(url("message", event), {"body": "  \n "})

    assert response.status_code == 200
    assert "This field is required." in response.text
    assert not EventMessage.objects.exists()
    assert not Notification.objects.filter(kind="event_message").exists()


def friends_of_aiko(aiko, ben, chika):
    """aiko's friends: ben and chika, members of the club, and olga, who is
    not (returned)."""
    olga = MemberFactory(nickname="olga")
    for friend in (ben, chika, olga):
        make_friends(aiko, friend)
    return olga


def test_inviting_lists_friends_in_the_community_who_have_not_answered(
    club, aiko, ben, chika, daichi
):
    event = make_event(club)
    friends_of_aiko(aiko, ben, chika)
    actions.answer(chika, event, "maybe")
    client = client_for(aiko)

    html = client.get(url("invite", event)).text

    assert "<legend>Friends to invite</legend>" in html
    checkboxes = {
        name: control
        for name, control in labelled_controls(html).items()
        if control.get("name") == "members"
    }
    assert list(checkboxes) == ["ben"]
    assert checkboxes["ben"]["type"] == "checkbox"
    assert checkboxes["ben"]["value"] == str(ben.pk)

    response = client.post(url("invite", event), {"members": [ben.pk]}, follow=True)

    assert "1 friend was invited." in response.text
    invited = Notification.objects.filter(kind="event_invitation", target_id=event.pk)
    assert list(invited.values_list("recipient__nickname", flat=True)) == ["ben"]


def test_a_moderator_cannot_invite_a_friend_the_organiser_blocked(cast, club, ben):
    event = make_event(club)
    moderator = cast["moderator"]
    for friend in (ben, cast["blocked"]):
        make_friends(moderator, friend)
    client = client_for(moderator)

    html = client.get(url("invite", event)).text
    response = client.post(url("invite", event), {"members": [cast["blocked"].pk]})

    listed = [
        name
        for name, control in labelled_controls(html).items()
        if control.get("name") == "members"
    ]
    assert listed == ["ben"]
    assert "Select a valid choice." in response.text
    assert not Notification.objects.filter(kind="event_invitation").exists()


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ("olga", "Select a valid choice."),
        ("chika", "Select a valid choice."),
        ("nobody", "Choose at least one friend to invite."),
    ],
)
def test_inviting_someone_not_listed_is_refused_and_invites_no_one(
    club, aiko, ben, chika, who, error
):
    event = make_event(club)
    olga = friends_of_aiko(aiko, ben, chika)
    actions.answer(chika, event, "going")
    member_ids = {"olga": [olga.pk], "chika": [chika.pk], "nobody": []}[who]

    response = client_for(aiko).post(url("invite", event), {"members": member_ids})

    assert response.status_code == 200
    assert error in response.text
    assert not Notification.objects.filter(kind="event_invitation").exists()


def test_with_no_friend_to_invite_the_page_says_so(club, aiko):
    event = make_event(club)

    html = client_for(aiko).get(url("invite", event)).text

    assert "None of your friends can be invited" in html
    assert "<form" not in html.split("<main", 1)[1]


def _csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_attendee_export_is_a_csv_of_nicknames_statuses_and_the_waitlist(
    club, aiko, ben, chika, daichi
):
    event = make_event(club, capacity=3, guests_allowed=2)
    actions.answer(ben, event, "going", 2)
    waiting = members_of(club, 2, prefix="wait")
    actions.answer(chika, event, "going")
    for member in waiting:
        actions.answer(member, event, "going")
    actions.answer(daichi, event, "not_going")
    actions.answer(aiko, event, "maybe")

    response = client_for(aiko).get(url("attendees-csv", event))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="event-{event.pk}-attendees.csv"'
    )
    assert _csv_rows(response) == [
        ["Nickname", "Status", "Guests", "Waitlist position"],
        ["ben", "Going", "2", ""],
        ["chika", "Waitlisted", "0", "1"],
        ["wait0", "Waitlisted", "0", "2"],
        ["wait1", "Waitlisted", "0", "3"],
        ["aiko", "Maybe", "0", ""],
        ["daichi", "Not going", "0", ""],
    ]


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_the_attendee_export_defuses_cells_a_spreadsheet_would_run(club, aiko, start):
    event = make_event(club)
    risky = MemberFactory(nickname=f"{start}HYPERLINK(1)")
    Membership.objects.create(community=club, member=risky)
    actions.answer(risky, event, "going")

    rows = _csv_rows(client_for(aiko).get(url("attendees-csv", event)))

    assert rows[1][0] == f"'{start}HYPERLINK(1)"


def test_the_attendee_export_counts_but_never_names_a_member_hidden_by_a_block(
    club, aiko, cast
):
    event = make_event(club, organiser=cast["moderator"])
    actions.answer(cast["blocked"], event, "going")

    rows = _csv_rows(client_for(aiko).get(url("attendees-csv", event)))

    assert rows[1:] == [["(hidden by a block)", "Going", "0", ""]]
    moderator_rows = _csv_rows(
        client_for(cast["moderator"]).get(url("attendees-csv", event))
    )
    assert moderator_rows[1][0] == "gen"


# --- Who may open what --------------------------------------------------------------

ORGANISER_TOOLS = [
    ("get", "edit"),
    ("post", "edit"),
    ("get", "cancel"),
    ("post", "cancel"),
    ("get", "close"),
    ("post", "close"),
    ("get", "message"),
    ("post", "message"),
    ("get", "invite"),
    ("post", "invite"),
    ("get", "attendees-csv"),
]


def _unchanged(event) -> tuple:
    event.refresh_from_db()
    return (
        event.title,
        event.cancelled_at,
        event.rsvps_closed_at,
        EventMessage.objects.count(),
        Notification.objects.count(),
    )


def _post_data(event) -> dict:
    return {**form_data(title="Changed"), "body": "Hello", "members": []}


@pytest.mark.parametrize(("method", "name"), ORGANISER_TOOLS)
@pytest.mark.parametrize("role", UNSEEING)
def test_who_may_not_see_the_event_finds_no_organiser_tool(
    cast, clients, club, role, method, name
):
    event = make_event(club, title="Tasting walk")
    before = _unchanged(event)

    response = getattr(clients[role], method)(url(name, event), _post_data(event))

    assert response.status_code == 404
    assert "Tasting walk" not in response.text
    assert _unchanged(event) == before


@pytest.mark.parametrize(("method", "name"), ORGANISER_TOOLS)
def test_a_member_who_does_not_run_the_event_is_refused_its_tools(
    cast, clients, club, method, name
):
    event = make_event(club, title="Tasting walk")
    before = _unchanged(event)

    response = getattr(clients["member"], method)(url(name, event), _post_data(event))

    assert response.status_code == 403
    assert "Only the organiser and the community's moderators can do that." in (
        response.text
    )
    assert _unchanged(event) == before


def test_an_htmx_request_for_a_tool_one_may_not_use_is_a_refusal(clients, club):
    event = make_event(club)

    response = clients["member"].post(url("cancel", event), **HTMX)

    assert response.status_code == 200
    assert response["X-Refused"] == "403"
    event.refresh_from_db()
    assert not event.is_cancelled


@pytest.mark.parametrize(("method", "name"), ORGANISER_TOOLS)
def test_anonymous_visitors_are_sent_to_log_in_from_every_tool(
    cast, clients, club, method, name
):
    event = make_event(club, title="Tasting walk")
    before = _unchanged(event)

    response = getattr(clients["anonymous"], method)(
        url(name, event), _post_data(event)
    )

    assert to_login(response)
    assert _unchanged(event) == before


@pytest.mark.parametrize("role", ["organiser", "moderator"])
@pytest.mark.parametrize("name", ["edit", "cancel", "close", "message", "invite"])
def test_the_organiser_and_moderators_open_every_tool(cast, clients, club, role, name):
    event = make_event(club)

    assert clients[role].get(url(name, event)).status_code == 200
    assert clients[role].get(url("attendees-csv", event)).status_code == 200


def test_a_hidden_event_answers_exactly_as_a_missing_one(cast, clients, club):
    event = make_event(club)
    missing = clients["stranger"].get(f"/events/{event.pk + 1000}/edit/")
    hidden = clients["stranger"].get(url("edit", event))

    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content


@pytest.mark.parametrize("role", [*UNSEEING, "anonymous"])
def test_the_events_pages_list_nothing_to_who_may_not_see_it(cast, clients, club, role):
    make_event(club, title="Tasting walk")
    pages = ["/events/", "/events/?when=past", f"/events/?month={timezone.now():%Y-%m}"]

    for page in pages:
        response = clients[role].get(page)
        if role == "anonymous":
            assert to_login(response)
        else:
            assert response.status_code == 200
            assert "Tasting walk" not in response.text


def test_anonymous_visitors_are_sent_to_log_in_from_the_event_form(clients, club):
    assert to_login(clients["anonymous"].get(create_url(club)))
    assert to_login(clients["anonymous"].post(create_url(club), form_data()))
    assert not Event.objects.exists()


def test_rsvp_rows_of_the_export_are_read_in_one_query(club, aiko):
    event = make_event(club)
    client = client_for(aiko)

    def queries_for(count: int) -> int:
        for member in members_of(club, count, prefix=f"q{count}x"):
            actions.answer(member, event, "going")
        with CaptureQueriesContext(connection) as queries:
            client.get(url("attendees-csv", event))
        return len(queries)

    assert queries_for(2) == queries_for(20)


def test_rsvp_status_labels_are_the_models(club):
    assert dict(RSVP.Status.choices)["not_going"] == "Not going"
