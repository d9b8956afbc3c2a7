"""What an event's changes push, after they commit (docs/events.md, "Live"):
rendered once per language, never once per recipient, and sent through
chat/broadcast.py, the one module that talks to the channel layer.

Who receives what:
- the counts, and one attendee fragment per member whose answer changed, go
  to every socket showing the event (`event.<id>.<lang>`, joined only after
  events.access allowed the page's stream). Each attendee fragment is sent as
  an event of its own with that member as its `author_ids`, so the hub drops
  it on the sockets of members hidden from them by a block: a blocked member
  is counted but never named;
- a summary of the event (its times and state, never a place shown only to
  members going) goes to the same groups after the event itself changed;
- a bare notice (`<template id="live-event-rsvp" data-event data-version>`,
  no words, one frame for every language) goes to the own group
  (`user.<id>`) of each member whose answer, place in the waitlist or view of
  the event changed: their open page of the event then asks for its own panel
  (GET events:rsvp). What is theirs alone (their answer, their position, a
  place shown only to members going) is never in a shared fragment.

Every fragment carries the version it was read at (Event.version, an
answer's RSVP.version): static/js/events.js keeps the newest of each, so one
that arrives twice or late does no harm.
"""

from django.utils import timezone

from chat import broadcast, fragments
from events.models import RSVP, Event
from project.timezones import zone_named

TEMPLATE = "events/_rsvp.html"


def render_per_language(partial: str, context: dict) -> dict[str, str]:
    return fragments.render_per_language(partial, context, TEMPLATE)


def summary_context(event: Event, now=None) -> dict:
    """What the summary says of the event's state: whether answers are open
    and, when not, why (cancelled, ended, closed by the organiser, past the
    deadline)."""
    now = now or timezone.now()
    closed = None
    if event.is_cancelled:
        closed = "cancelled"
    elif now >= event.ends_at:
        closed = "ended"
    elif event.rsvps_closed_at is not None:
        closed = "closed"
    elif event.rsvp_deadline is not None and now >= event.rsvp_deadline:
        closed = "deadline"
    return {"rsvps_open": closed is None, "closed": closed}


def publish(event_id: int, changed: list[int], positions_changed: list[int]) -> None:
    """After an RSVP change: `changed` are the members whose answer (state,
    guests) changed, promoted members included; `positions_changed` the
    members still waitlisted whose position moved. Two queries: the event,
    then the changed members' answers (in that order: an answer withdrawn
    is told at a version no newer answer of theirs can have)."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return
    changed = list(dict.fromkeys(changed))
    answers = {
        rsvp.member_id: rsvp
        for rsvp in RSVP.objects.filter(
            event_id=event_id, member_id__in=changed
        ).select_related("member")
    }
    broadcast.send_event_frames(
        event_id, render_per_language("counts-live", {"event": event}), author_ids=()
    )
    for member_id in changed:
        frames = render_per_language(
            "attendee-live",
            {"event": event, "rsvp": answers.get(member_id), "member_id": member_id},
        )
        broadcast.send_event_frames(event_id, frames, author_ids=(member_id,))
    told = list(dict.fromkeys([*changed, *positions_changed]))
    if told:
        broadcast.send_html_to_members(told, notice(event))


def publish_event(event_id: int) -> None:
    """After the event itself changed (edited, cancelled, RSVPs closed): its
    summary to every page showing it, in the event's own time zone (named in
    it; a page shown in another zone asks for its own), and the notice to
    everyone who answered and the organiser (whose buttons, and a place shown
    to members going, are theirs alone). Two queries."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return
    with timezone.override(zone_named(event.time_zone)):
        frames = render_per_language(
            "summary-live", {"event": event, **summary_context(event)}
        )
    broadcast.send_event_frames(event_id, frames, author_ids=())
    answered = RSVP.objects.filter(event_id=event_id).values_list(
        "member_id", flat=True
    )
    told = list(dict.fromkeys([event.organiser_id, *answered]))
    broadcast.send_html_to_members(told, notice(event))


def notice(event: Event) -> str:
    """The bare notice to a member's own sockets: ids and a version, no words
    (one frame for every language)."""
    return (
        f'<template id="live-event-rsvp" data-event="{int(event.pk)}" '
        f'data-version="{int(event.version)}"></template>'
    )
