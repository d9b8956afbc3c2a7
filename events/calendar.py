"""Events as iCalendar (RFC 5545): one event's .ics ("Add to calendar") and a
member's private feed of the events they are going to, and the feed's
address (CalendarFeed: create, revoke, replace).

Each VEVENT names the zone its event was entered in (Event.time_zone) as the
TZID of its start and end, and the calendar carries a VTIMEZONE for every
zone it names, built from the zone database for the years its events span:
a calendar then shows the event at the right local time, before and after a
change of clock.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from icalendar import Calendar
from icalendar import Event as VEvent

from events.models import CalendarFeed, Event
from project.timezones import zone_named

PRODID = "-//Enishi//Events//EN"
# A VTIMEZONE covers its events' years and this much either side.
ZONE_MARGIN = timedelta(days=366)


def event_uid(event: Event) -> str:
    """Stable for the event's life: a calendar updates the event it already
    has rather than adding a second."""
    return f"event-{event.pk}@enishi"


def _vevent(event: Event, *, url: str, with_place: bool, stamp) -> VEvent:
    zone = zone_named(event.time_zone)
    vevent = VEvent()
    vevent.add("uid", event_uid(event))
    vevent.add("dtstamp", stamp)
    vevent.add("created", event.created_at)
    vevent.add("last-modified", event.updated_at)
    vevent.add("dtstart", event.starts_at.astimezone(zone))
    vevent.add("dtend", event.ends_at.astimezone(zone))
    vevent.add("summary", event.title)
    if event.description:
        vevent.add("description", event.description)
    if event.place and with_place:
        vevent.add("location", event.place)
    vevent.add("url", url)
    vevent.add("status", "CANCELLED" if event.is_cancelled else "CONFIRMED")
    return vevent


def calendar_ics(events, *, url_of, with_place, name: str = "") -> bytes:
    """A VCALENDAR of `events` (a list): `url_of(event)` is its page's
    absolute address, `with_place(event)` whether its place is written."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if name:
        calendar.add("x-wr-calname", name)
    stamp = timezone.now().replace(microsecond=0)
    for event in events:
        calendar.add_component(
            _vevent(event, url=url_of(event), with_place=with_place(event), stamp=stamp)
        )
    if events:
        first = min(event.starts_at for event in events) - ZONE_MARGIN
        last = max(event.ends_at for event in events) + ZONE_MARGIN
        calendar.add_missing_timezones(first_date=first.date(), last_date=last.date())
    return calendar.to_ical()


# --- The private feed's address -----------------------------------------------


def feed_of(member) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(member=member).first()


def create_feed(*, member) -> CalendarFeed:
    """The member's feed address: the one they have, else a new one."""
    feed, _created = CalendarFeed.objects.get_or_create(member=member)
    return feed


def revoke_feed(*, member) -> None:
    """Delete the member's feed: its address answers 404 from now on."""
    CalendarFeed.objects.filter(member=member).delete()


def replace_feed(*, member) -> CalendarFeed:
    """A new address for the member's feed; the old one answers 404."""
    with transaction.atomic():
        revoke_feed(member=member)
        return CalendarFeed.objects.create(member=member)


def member_of_feed(token: str):
    """The active member whose feed `token` is, else None."""
    feed = (
        CalendarFeed.objects.select_related("member")
        .filter(token=token, member__is_active=True)
        .first()
    )
    return feed.member if feed is not None else None
