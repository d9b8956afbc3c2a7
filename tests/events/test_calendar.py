"""Calendars (events/calendar.py): an event's .ics ("Add to calendar") and a
member's private feed of the events they are going to, parsed back with
icalendar and compared with the events, time zones included; the feed's
address created, replaced and revoked from the settings page."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from accounts.models import Block
from communities import actions as community_actions
from communities.models import Membership
from events import actions
from events.calendar import PRODID
from events.models import CalendarFeed
from tests.conftest import MemberFactory, client_for
from tests.events.conftest import make_event
from tests.events.pages_fixtures import (  # noqa: F401 (fixtures)
    UNSEEING,
    cast_fixture,
    clients_fixture,
    links_named,
    to_login,
)
from tests.factories import CommunityFactory

pytestmark = pytest.mark.django_db

YEAR = timezone.now().year + 2
SERVER = "http://testserver"


def ics_url(event) -> str:
    return reverse("events:ics", kwargs={"event_id": event.pk})


def parse(response) -> Calendar:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def only_event(calendar: Calendar):
    (vevent,) = calendar.events
    return vevent


def zone_of(calendar: Calendar, tzid: str):
    """The VTIMEZONE named `tzid`, as a tzinfo built from its own rules (not
    from the zone database): what a calendar app reading the file uses."""
    (vtimezone,) = [tz for tz in calendar.timezones if tz["TZID"] == tzid]
    return vtimezone.to_tz()


def assert_instant_in_zone(prop, instant: datetime, calendar: Calendar, tzid: str):
    """A DTSTART/DTEND written as local time in `tzid`, naming it, and meaning
    `instant` by the file's own VTIMEZONE."""
    assert prop.params["TZID"] == tzid
    local = prop.dt.replace(tzinfo=None)
    by_the_file = local.replace(tzinfo=zone_of(calendar, tzid))
    assert by_the_file == instant
    assert local == instant.astimezone(prop.dt.tzinfo).replace(tzinfo=None)


def test_a_tokyo_events_ics_matches_the_event_field_by_field(club, aiko, ben):
    event = make_event(
        club,
        title="Saturday tasting walk",
        description="Three roasters, one afternoon.\nBring a cup.",
        place="Shimokitazawa station, west exit",
        starts_at=datetime(YEAR, 7, 4, 5, 0, tzinfo=UTC),
        ends_at=datetime(YEAR, 7, 4, 8, 0, tzinfo=UTC),
        time_zone="Asia/Tokyo",
    )

    calendar = parse(client_for(ben).get(ics_url(event)))

    assert str(calendar["PRODID"]) == PRODID
    assert str(calendar["VERSION"]) == "2.0"
    vevent = only_event(calendar)
    assert str(vevent["UID"]) == f"event-{event.pk}@enishi"
    assert str(vevent["SUMMARY"]) == "Saturday tasting walk"
    assert str(vevent["DESCRIPTION"]) == "Three roasters, one afternoon.\nBring a cup."
    assert str(vevent["LOCATION"]) == "Shimokitazawa station, west exit"
    assert str(vevent["URL"]) == f"{SERVER}/events/{event.pk}/"
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert vevent["DTSTAMP"].dt.tzinfo is not None
    assert abs(vevent["DTSTAMP"].dt - timezone.now()) < timedelta(minutes=5)
    assert_instant_in_zone(vevent["DTSTART"], event.starts_at, calendar, "Asia/Tokyo")
    assert_instant_in_zone(vevent["DTEND"], event.ends_at, calendar, "Asia/Tokyo")
    # 05:00 UTC is 14:00 in Tokyo.
    assert vevent["DTSTART"].dt.replace(tzinfo=None) == datetime(YEAR, 7, 4, 14, 0)
    assert b"DTSTART;TZID=Asia/Tokyo:" in client_for(ben).get(ics_url(event)).content
    assert [tz["TZID"] for tz in calendar.timezones] == ["Asia/Tokyo"]


def test_an_event_across_a_change_of_clock_keeps_both_offsets(club, aiko):
    # London leaves summer time on the last Sunday of October at 02:00 BST:
    # the event starts in summer time (+01:00) and ends in winter time.
    october = datetime(YEAR, 10, 31)
    sunday = october - timedelta(days=(october.weekday() + 1) % 7)
    starts_at = datetime(sunday.year, 10, sunday.day - 1, 22, 0, tzinfo=UTC)
    ends_at = datetime(sunday.year, 10, sunday.day, 3, 0, tzinfo=UTC)
    event = make_event(
        club, starts_at=starts_at, ends_at=ends_at, time_zone="Europe/London"
    )

    calendar = parse(client_for(aiko).get(ics_url(event)))

    vevent = only_event(calendar)
    assert_instant_in_zone(vevent["DTSTART"], starts_at, calendar, "Europe/London")
    assert_instant_in_zone(vevent["DTEND"], ends_at, calendar, "Europe/London")
    london = zone_of(calendar, "Europe/London")
    start_local = vevent["DTSTART"].dt.replace(tzinfo=None)
    end_local = vevent["DTEND"].dt.replace(tzinfo=None)
    assert start_local.replace(tzinfo=london).utcoffset() == timedelta(hours=1)
    assert end_local.replace(tzinfo=london).utcoffset() == timedelta(0)
    # 23:00 BST to 03:00 GMT.
    assert (start_local.hour, end_local.hour) == (23, 3)


def test_the_event_names_the_zone_it_was_entered_in_not_the_viewers(club, aiko):
    event = make_event(club, time_zone="America/New_York")
    aiko.time_zone = "Europe/London"
    aiko.save()

    calendar = parse(client_for(aiko).get(ics_url(event)))

    assert only_event(calendar)["DTSTART"].params["TZID"] == "America/New_York"
    assert [tz["TZID"] for tz in calendar.timezones] == ["America/New_York"]


def test_a_place_shown_only_to_members_going_stays_out_of_others_files(
    club, aiko, ben, chika, daichi
):
    event = make_event(club, place="Secret garden", place_going_only=True)
    actions.answer(ben, event, "going")
    actions.answer(chika, event, "maybe")

    def location(member):
        return only_event(parse(client_for(member).get(ics_url(event)))).get("LOCATION")

    assert str(location(ben)) == "Secret garden"
    assert str(location(aiko)) == "Secret garden"
    assert location(chika) is None
    assert location(daichi) is None
    assert b"Secret garden" not in client_for(chika).get(ics_url(event)).content


def test_a_cancelled_event_is_cancelled_in_its_file(club, aiko):
    event = make_event(club, cancelled_at=timezone.now())

    assert str(only_event(parse(client_for(aiko).get(ics_url(event))))["STATUS"]) == (
        "CANCELLED"
    )


def test_the_uid_is_the_same_every_time(club, aiko, ben):
    event = make_event(club)

    first = only_event(parse(client_for(aiko).get(ics_url(event))))
    second = only_event(parse(client_for(ben).get(ics_url(event))))

    assert first["UID"] == second["UID"] == f"event-{event.pk}@enishi"


def test_the_file_is_offered_as_a_download(club, aiko):
    event = make_event(club)

    response = client_for(aiko).get(ics_url(event))

    assert response["Content-Disposition"] == (
        f'attachment; filename="event-{event.pk}.ics"'
    )


@pytest.mark.parametrize("role", UNSEEING)
def test_who_may_not_see_the_event_gets_no_file(cast, clients, club, role):
    event = make_event(club, title="Tasting walk")

    response = clients[role].get(ics_url(event))

    assert response.status_code == 404
    assert b"Tasting walk" not in response.content


def test_anonymous_visitors_are_sent_to_log_in_for_the_file(clients, club):
    assert to_login(clients["anonymous"].get(ics_url(make_event(club))))


# --- The private feed ---------------------------------------------------------------


def feed_url(member) -> str:
    feed = CalendarFeed.objects.get(member=member)
    return reverse("events:feed", kwargs={"token": feed.token})


def feed_uids(member, client=None) -> set[str]:
    response = (client or client_for(member)).get(feed_url(member))
    return {str(vevent["UID"]) for vevent in parse(response).events}


def uid(event) -> str:
    return f"event-{event.pk}@enishi"


def settings_post(member, action: str):
    return client_for(member).post(
        reverse("events:calendar-settings"), {"action": action}, follow=True
    )


def test_the_feed_lists_exactly_the_events_one_is_going_to(
    club, aiko, ben, chika, daichi
):
    going = make_event(club, title="Going", place="Garden", place_going_only=True)
    also_going = make_event(
        club,
        title="Going too",
        starts_at=datetime(YEAR, 1, 10, 1, tzinfo=UTC),
        time_zone="Europe/London",
    )
    maybe = make_event(club, title="Maybe")
    not_going = make_event(club, title="Not going")
    full = make_event(club, title="Full", capacity=1)
    only_ben = make_event(club, title="Ben's")
    unanswered = make_event(club, title="Unanswered")
    elsewhere = CommunityFactory()
    Membership.objects.create(community=elsewhere, member=chika)
    left_behind = make_event(elsewhere, organiser=elsewhere.owner, title="Left")
    actions.answer(chika, going, "going")
    actions.answer(chika, also_going, "going")
    actions.answer(chika, maybe, "maybe")
    actions.answer(chika, not_going, "not_going")
    actions.answer(daichi, full, "going")
    actions.answer(chika, full, "going")
    actions.answer(ben, only_ben, "going")
    actions.answer(chika, left_behind, "going")
    community_actions.leave_community(member=chika, community=elsewhere)
    settings_post(chika, "create")

    calendar = parse(Client().get(feed_url(chika)))

    assert {str(vevent["UID"]) for vevent in calendar.events} == {
        uid(going),
        uid(also_going),
    }
    assert uid(unanswered) not in feed_uids(chika)
    by_uid = {str(vevent["UID"]): vevent for vevent in calendar.events}
    # Going: the place shown only to members going is theirs.
    assert str(by_uid[uid(going)]["LOCATION"]) == "Garden"
    assert by_uid[uid(also_going)]["DTSTART"].params["TZID"] == "Europe/London"
    assert {tz["TZID"] for tz in calendar.timezones} == {"Asia/Tokyo", "Europe/London"}
    assert_instant_in_zone(
        by_uid[uid(also_going)]["DTSTART"],
        also_going.starts_at,
        calendar,
        "Europe/London",
    )


def test_the_feed_drops_an_event_one_can_no_longer_see(club, aiko, chika):
    event = make_event(club)
    actions.answer(chika, event, "going")
    settings_post(chika, "create")
    assert feed_uids(chika) == {uid(event)}

    Block.objects.create(blocker=chika, blocked=aiko)

    assert feed_uids(chika) == set()


def test_the_feed_needs_no_login_and_says_so_to_no_search_engine(club, chika):
    event = make_event(club)
    actions.answer(chika, event, "going")
    settings_post(chika, "create")

    response = Client().get(feed_url(chika))

    assert response.status_code == 200
    assert {str(vevent["UID"]) for vevent in parse(response).events} == {uid(event)}
    assert response["X-Robots-Tag"] == "noindex"
    assert "Content-Disposition" not in response


def test_a_revoked_feed_answers_404(club, chika):
    settings_post(chika, "create")
    old = feed_url(chika)
    assert Client().get(old).status_code == 200

    response = settings_post(chika, "revoke")

    assert "Your calendar address was revoked. It no longer works." in response.text
    assert not CalendarFeed.objects.filter(member=chika).exists()
    assert Client().get(old).status_code == 404
    assert "Create calendar address" in response.text


def test_a_replaced_feed_has_a_new_address_and_the_old_one_answers_404(club, chika):
    settings_post(chika, "create")
    old = feed_url(chika)

    response = settings_post(chika, "replace")

    new = feed_url(chika)
    assert new != old
    assert "The old address no longer works." in response.text
    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 200


def test_creating_twice_keeps_one_address(club, chika):
    settings_post(chika, "create")
    first = feed_url(chika)

    settings_post(chika, "create")

    assert feed_url(chika) == first
    assert CalendarFeed.objects.filter(member=chika).count() == 1


@pytest.mark.parametrize("token", ["nope", "x" * 43, "x" * 500])
def test_an_unknown_token_answers_404(club, chika, token):
    settings_post(chika, "create")

    assert Client().get(f"/events/feed/{token}.ics").status_code == 404


def test_the_feed_of_a_member_no_longer_active_answers_404(club, chika):
    settings_post(chika, "create")
    url = feed_url(chika)
    chika.is_active = False
    chika.save()

    assert Client().get(url).status_code == 404


def test_the_settings_page_shows_the_absolute_address_and_its_buttons(club, chika):
    html = client_for(chika).get(reverse("events:calendar-settings")).text
    assert '<button type="submit" name="action" value="create"' in html
    assert "Create calendar address" in html

    html = settings_post(chika, "create").text

    feed = CalendarFeed.objects.get(member=chika)
    assert len(feed.token) == 43
    assert f"{SERVER}/events/feed/{feed.token}.ics" in html
    assert "Your calendar address was created." in html
    assert ">Revoke</button>" in html
    assert ">Replace with a new address</button>" in html


def test_an_unknown_settings_action_changes_nothing(club, chika):
    response = client_for(chika).post(
        reverse("events:calendar-settings"), {"action": "steal"}
    )

    assert response.status_code == 400
    assert not CalendarFeed.objects.exists()


def test_the_settings_page_is_the_members_own(club, chika, ben):
    settings_post(ben, "create")
    bens = feed_url(ben)

    settings_post(chika, "revoke")

    assert Client().get(bens).status_code == 200
    assert bens.split("/")[-1].removesuffix(".ics") not in (
        client_for(chika).get(reverse("events:calendar-settings")).text
    )


def test_anonymous_visitors_are_sent_to_log_in_for_the_settings(club):
    anonymous = Client()
    assert to_login(anonymous.get(reverse("events:calendar-settings")))
    assert to_login(
        anonymous.post(reverse("events:calendar-settings"), {"action": "create"})
    )
    assert not CalendarFeed.objects.exists()


def test_the_event_list_links_the_calendar_address(club, aiko):
    html = client_for(aiko).get("/events/").text

    assert links_named(html, "Calendar address") == [
        reverse("events:calendar-settings")
    ]


def test_the_feed_reads_the_same_number_of_queries_however_many_events(club, chika):
    settings_post(chika, "create")
    anonymous = Client()

    def queries_for(count: int) -> int:
        for _ in range(count):
            actions.answer(chika, make_event(club, place="Garden"), "going")
        with CaptureQueriesContext(connection) as queries:
            assert len(parse(anonymous.get(feed_url(chika))).events) >= count
        return len(queries)

    assert queries_for(2) == queries_for(10)


def test_a_member_made_for_the_feed_sees_nothing_else(club):
    loner = MemberFactory(nickname="olga")
    settings_post(loner, "create")

    assert feed_uids(loner) == set()
