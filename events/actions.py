"""Writes on events: create and edit them, answer them (RSVP), withdraw,
close RSVPs, cancel, message the members going, invite friends.

Seats (docs/events.md, "Seats and the waitlist"): every write runs in one
transaction that first takes the event's row lock (select_for_update), so
answers pressed at the same moment queue on it, and the waitlist's order
(RSVP.waitlist_seq, drawn from Event.waitlist_seq) is the order in which they
took it. In the same transaction the counts on the event are recounted from
its RSVP rows in one aggregate query, Event.version grows by one and every
RSVP row that changed carries the new version (the order of live fragments).

After commit the change goes live through events/live.py: `live.publish` for
answers (whose answer changed, whose waitlist position moved) and
`live.publish_event` for the event itself. A refusal is
communities.access.NotAllowed (400) or Forbidden (403) with a message for the
member; an event the member may not see is Http404, as on its page.
"""

import zoneinfo
from datetime import datetime

from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.audience import friend_ids
from accounts.models import Member
from communities.access import Forbidden, NotAllowed, membership_of, require_active
from communities.models import Community
from events import live
from events.access import (
    access_event,
    access_organised_event,
    can_create_event,
    viewers_q,
    visible_events,
)
from events.models import GUESTS_MAX, RSVP, Event, EventMessage
from presence import notifications

Status = RSVP.Status
ANSWERS = (Status.GOING, Status.MAYBE, Status.NOT_GOING)

TITLE_MAX = Event._meta.get_field("title").max_length
DESCRIPTION_MAX = Event._meta.get_field("description").max_length
PLACE_MAX = Event._meta.get_field("place").max_length
MESSAGE_MAX = EventMessage._meta.get_field("body").max_length
# Far beyond any gathering, and within the column (a PostgreSQL integer).
CAPACITY_MAX = 100_000

# What update_event may change.
EDITABLE = (
    "title",
    "description",
    "starts_at",
    "ends_at",
    "time_zone",
    "place",
    "place_going_only",
    "capacity",
    "rsvp_deadline",
    "guests_allowed",
)
# A change of these is told to every member going (kind "event_changed").
TOLD_TO_GOING = frozenset({"starts_at", "ends_at", "place"})
COUNTS = (
    "seats_taken",
    "going_count",
    "maybe_count",
    "not_going_count",
    "waitlist_count",
)


# --- Checks -------------------------------------------------------------------------


def _text(value, *, max_length: int, too_long: str) -> str:
    # A textarea's line breaks arrive as CRLF while its maxlength counts each
    # as one character: count (and store) them as "\n".
    value = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(value) > max_length:
        raise NotAllowed(too_long % {"max": max_length, "n": len(value)})
    return value


def _aware(value, refusal: str) -> datetime:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise NotAllowed(refusal)
    return value


def _clean(values: dict) -> dict:
    """The event's fields checked and normalised; NotAllowed for the first
    that is wrong (nothing is written)."""
    title = _text(
        values["title"],
        max_length=TITLE_MAX,
        too_long=_("A title has at most %(max)d characters (this one has %(n)d)."),
    )
    if not title:
        raise NotAllowed(_("Give the event a title."))
    description = _text(
        values["description"],
        max_length=DESCRIPTION_MAX,
        too_long=_(
            "A description has at most %(max)d characters (this one has %(n)d)."
        ),
    )
    place = _text(
        values["place"],
        max_length=PLACE_MAX,
        too_long=_("A place has at most %(max)d characters (this one has %(n)d)."),
    )
    starts_at = _aware(values["starts_at"], _("Say when the event starts."))
    ends_at = _aware(values["ends_at"], _("Say when the event ends."))
    if ends_at < starts_at:
        raise NotAllowed(_("An event cannot end before it starts."))
    deadline = values["rsvp_deadline"]
    if deadline is not None:
        deadline = _aware(deadline, _("The RSVP deadline is not a time."))
        if deadline > ends_at:
            raise NotAllowed(_("The RSVP deadline cannot be after the event ends."))
    try:
        zoneinfo.ZoneInfo(values["time_zone"])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise NotAllowed(_("Choose a time zone from the list.")) from None
    capacity = values["capacity"]
    if capacity is not None and (
        isinstance(capacity, bool)
        or not isinstance(capacity, int)
        or not 1 <= capacity <= CAPACITY_MAX
    ):
        raise NotAllowed(
            _("The capacity is a number of seats from 1 to %(max)d, or empty.")
            % {"max": CAPACITY_MAX}
        )
    guests_allowed = values["guests_allowed"]
    if guests_allowed not in range(GUESTS_MAX + 1) or isinstance(guests_allowed, bool):
        raise NotAllowed(
            _("Members may bring from 0 to %(max)d guests.") % {"max": GUESTS_MAX}
        )
    return {
        "title": title,
        "description": description,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "time_zone": values["time_zone"],
        "place": place,
        "place_going_only": bool(values["place_going_only"]),
        "capacity": capacity,
        "rsvp_deadline": deadline,
        "guests_allowed": guests_allowed,
    }


def _require_open(event: Event) -> None:
    """Answers can change until the deadline, the organiser closing RSVPs, a
    cancellation or the event's end, whichever comes first."""
    if event.rsvps_open():
        return
    now = timezone.now()
    if event.is_cancelled:
        raise NotAllowed(_("This event was cancelled."))
    if now >= event.ends_at:
        raise NotAllowed(_("This event has ended."))
    if event.rsvps_closed_at is not None:
        raise NotAllowed(_("The organiser closed RSVPs for this event."))
    raise NotAllowed(_("The RSVP deadline for this event has passed."))


def _check_guests(event: Event, guests) -> None:
    if isinstance(guests, int) and 0 <= guests <= event.guests_allowed:
        return
    if not event.guests_allowed:
        raise NotAllowed(_("This event does not allow guests."))
    raise NotAllowed(
        ngettext(
            "You can bring at most %(max)d guest to this event.",
            "You can bring at most %(max)d guests to this event.",
            event.guests_allowed,
        )
        % {"max": event.guests_allowed}
    )


# --- The lock, the counts and the waitlist ------------------------------------------


def _lock(event_id: int) -> Event:
    """The event under its row lock: every write on an event's seats, counts
    or version takes it first, so they happen one at a time. Nothing is
    joined: FOR UPDATE would lock the joined rows too."""
    event = Event.objects.select_for_update().filter(pk=event_id).first()
    if event is None:
        raise Http404
    return event


def _lock_seen(member, event_id: int) -> Event:
    """The event locked, if `member` may still see it: the page's rule
    (access_event), asked again once this write holds the lock, since the
    page was read before it."""
    event = _lock(event_id)
    access_event(member, event_id)
    return event


def _lock_organised(actor, event_id: int) -> Event:
    """The event locked, if `actor` may run it (404 if they may not see it,
    403 if they may see it but not run it)."""
    event = _lock(event_id)
    access_organised_event(actor, event_id)
    return event


def _recount(event: Event) -> None:
    """Set the counts on `event` from its RSVP rows: one aggregate query."""
    going = Q(status=Status.GOING)
    counts = RSVP.objects.filter(event=event).aggregate(
        seats_taken=Coalesce(Sum(F("guests") + 1, filter=going), 0),
        going_count=Count("pk", filter=going),
        maybe_count=Count("pk", filter=Q(status=Status.MAYBE)),
        not_going_count=Count("pk", filter=Q(status=Status.NOT_GOING)),
        waitlist_count=Count("pk", filter=Q(status=Status.WAITLISTED)),
    )
    for name, value in counts.items():
        setattr(event, name, value)


def _fits(event: Event, seats: int) -> bool:
    """Whether one asking now for `seats` gets them: with a capacity, only
    if they are free and no one is waiting (who came first goes first)."""
    if event.capacity is None:
        return True
    return event.waitlist_count == 0 and event.capacity - event.seats_taken >= seats


def _promote(event: Event) -> list[RSVP]:
    """Inside the lock, with the counts just recounted: give free seats to the
    waitlist from its head, in order, while the head fits. A head that needs
    more seats than are free waits, and no one behind it goes ahead. Each
    promoted member is notified. Returns the promoted rows (with the
    waitlist_seq they had), keeping the counts on `event` right."""
    waiting = RSVP.objects.filter(event=event, status=Status.WAITLISTED).order_by(
        "waitlist_seq"
    )
    if event.capacity is not None:
        free = event.capacity - event.seats_taken
        if free <= 0 or not event.waitlist_count:
            return []
        # Each takes at least one seat: no more than `free` can get in.
        waiting = waiting[:free]
    promoted = []
    for rsvp in waiting:
        if event.capacity is not None and (
            rsvp.seats > event.capacity - event.seats_taken
        ):
            break
        promoted.append(rsvp)
        event.seats_taken += rsvp.seats
        event.going_count += 1
        event.waitlist_count -= 1
    if not promoted:
        return []
    RSVP.objects.filter(pk__in=[rsvp.pk for rsvp in promoted]).update(
        status=Status.GOING, waitlist_seq=None, version=event.version
    )
    for rsvp in promoted:
        notifications.notify(rsvp.member_id, "event_promoted", target_id=event.pk)
    return promoted


def _finish(event: Event, changed: list[int], left_seqs: list[int]) -> None:
    """Save the event's counts and version, and after commit publish the
    change, if any answer changed: `changed` are the members whose answer
    changed, `left_seqs` the places that left the waitlist (everyone still
    waiting behind the first of them moved up)."""
    changed = list(dict.fromkeys(changed))
    positions_changed = []
    if left_seqs:
        positions_changed = list(
            RSVP.objects.filter(
                event=event,
                status=Status.WAITLISTED,
                waitlist_seq__gt=min(left_seqs),
            )
            .exclude(member_id__in=changed)
            .order_by("waitlist_seq")
            .values_list("member_id", flat=True)
        )
    event.save(update_fields=[*COUNTS, "waitlist_seq", "version"])
    if changed:
        event_id = event.pk
        transaction.on_commit(
            lambda: live.publish(event_id, changed, positions_changed)
        )


def _recount_and_promote(event: Event, changed: list[int], left_seqs: list[int]):
    _recount(event)
    promoted = _promote(event)
    changed.extend(rsvp.member_id for rsvp in promoted)
    left_seqs.extend(rsvp.waitlist_seq for rsvp in promoted)
    _finish(event, changed, left_seqs)
    return promoted


def _publish_event_on_commit(event: Event) -> None:
    event_id = event.pk
    transaction.on_commit(lambda: live.publish_event(event_id))


# --- Reads for the pages ------------------------------------------------------------


def answers_for(event: Event, member) -> RSVP | None:
    """`member`'s answer to `event`, if any."""
    if not member.is_authenticated:
        return None
    return RSVP.objects.filter(event=event, member=member).first()


def waitlist_position(rsvp: RSVP | None) -> int | None:
    """1 for the head of the waitlist; None unless waitlisted."""
    if rsvp is None or rsvp.status != Status.WAITLISTED:
        return None
    ahead = RSVP.objects.filter(
        event_id=rsvp.event_id,
        status=Status.WAITLISTED,
        waitlist_seq__lt=rsvp.waitlist_seq,
    ).count()
    return ahead + 1


# --- Events -------------------------------------------------------------------------


def create_event(
    organiser: Member,
    community: Community,
    *,
    title: str,
    description: str = "",
    starts_at: datetime,
    ends_at: datetime,
    time_zone: str = "Asia/Tokyo",
    place: str = "",
    place_going_only: bool = False,
    capacity: int | None = None,
    rsvp_deadline: datetime | None = None,
    guests_allowed: int = 0,
) -> Event:
    """A new event in `community`. The organiser needs an active membership,
    and to moderate it if the community keeps events to its moderators
    (Community.event_policy). The organiser is not going until they answer.
    Nothing is published: no page shows the event yet."""
    membership = require_active(membership_of(organiser, community))
    if not can_create_event(organiser, community, membership):
        raise Forbidden(_("Only the owner and moderators can create events here."))
    fields = _clean(
        {
            "title": title,
            "description": description,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "time_zone": time_zone,
            "place": place,
            "place_going_only": place_going_only,
            "capacity": capacity,
            "rsvp_deadline": rsvp_deadline,
            "guests_allowed": guests_allowed,
        }
    )
    if fields["ends_at"] <= timezone.now():
        raise NotAllowed(_("This event would be over already."))
    now = timezone.now()
    return Event.objects.create(
        community=community,
        organiser=organiser,
        created_at=now,
        updated_at=now,
        **fields,
    )


def update_event(actor: Member, event: Event, **changed_fields) -> Event:
    """Edit an event the actor may run (access_organised_event). A raised
    capacity promotes the waitlist at once; a lowered one sends no one away.
    A new start, end or place is told to every member going. Publishes the
    event, and the promoted members' answers."""
    unknown = set(changed_fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"update_event cannot change {sorted(unknown)}")
    with transaction.atomic():
        event = _lock_organised(actor, event.pk)
        if event.is_cancelled:
            raise NotAllowed(_("A cancelled event cannot be edited."))
        fields = _clean(
            {name: getattr(event, name) for name in EDITABLE} | changed_fields
        )
        changed = [name for name in EDITABLE if fields[name] != getattr(event, name)]
        if not changed:
            return event
        for name in changed:
            setattr(event, name, fields[name])
        event.version += 1
        event.updated_at = timezone.now()
        event.save(update_fields=[*changed, "version", "updated_at"])
        promoted = []
        if "capacity" in changed:
            promoted = _recount_and_promote(event, [], [])
        if TOLD_TO_GOING.intersection(changed):
            going = RSVP.objects.filter(event=event, status=Status.GOING).exclude(
                pk__in=[rsvp.pk for rsvp in promoted]
            )
            for member_id in going.values_list("member_id", flat=True):
                notifications.notify(
                    member_id, "event_changed", actor_id=actor.pk, target_id=event.pk
                )
        _publish_event_on_commit(event)
    return event


def close_rsvps(actor: Member, event: Event) -> Event:
    """Stop answers before the deadline (the actor may run the event). Closing
    again changes nothing. Publishes the event."""
    with transaction.atomic():
        event = _lock_organised(actor, event.pk)
        if event.is_cancelled:
            raise NotAllowed(_("This event was cancelled."))
        if event.rsvps_closed_at is not None:
            return event
        event.rsvps_closed_at = timezone.now()
        event.version += 1
        event.save(update_fields=["rsvps_closed_at", "version"])
        _publish_event_on_commit(event)
    return event


def cancel_event(actor: Member, event: Event) -> Event:
    """Cancel an event the actor may run: no more answers, and everyone who
    answered (whatever they answered) is notified, which reaches their open
    tabs and their devices (presence.notifications.notify). Cancelling again
    changes nothing. Publishes the event."""
    with transaction.atomic():
        event = _lock_organised(actor, event.pk)
        if event.is_cancelled:
            return event
        if timezone.now() >= event.ends_at:
            raise NotAllowed(_("This event has ended."))
        event.cancelled_at = timezone.now()
        event.version += 1
        event.save(update_fields=["cancelled_at", "version"])
        answered = RSVP.objects.filter(event=event).values_list("member_id", flat=True)
        for member_id in answered:
            notifications.notify(
                member_id, "event_cancelled", actor_id=actor.pk, target_id=event.pk
            )
        _publish_event_on_commit(event)
    return event


def message_going(actor: Member, event: Event, body: str) -> EventMessage:
    """Say something to every member going (the actor may run the event):
    one notification each, pointing at the message."""
    body = _text(
        body,
        max_length=MESSAGE_MAX,
        too_long=_("A message has at most %(max)d characters (this one has %(n)d)."),
    )
    if not body:
        raise NotAllowed(_("Write a message first."))
    with transaction.atomic():
        event = _lock_organised(actor, event.pk)
        if event.is_cancelled:
            raise NotAllowed(_("This event was cancelled."))
        message = EventMessage.objects.create(event=event, author=actor, body=body)
        going = RSVP.objects.filter(event=event, status=Status.GOING)
        for member_id in going.values_list("member_id", flat=True):
            notifications.notify(
                member_id, "event_message", actor_id=actor.pk, target_id=message.pk
            )
    return message


def invite_friends(actor: Member, event: Event, member_ids) -> int:
    """Invite friends of the actor (who may run the event: an organiser's
    tool) to it:
    of `member_ids`, those who are the actor's friends, may see the event
    (active members of its community, no block with the organiser) and have
    not answered it; the others are skipped without a word. Returns how many
    were notified."""
    ids = {member_id for member_id in member_ids if isinstance(member_id, int)}
    with transaction.atomic():
        event = _lock_organised(actor, event.pk)
        _require_open(event)
        invited = (
            Member.objects.filter(pk__in=ids, is_active=True)
            .filter(pk__in=friend_ids(actor))
            .filter(viewers_q(event))
            .exclude(pk__in=RSVP.objects.filter(event=event).values("member_id"))
            .values_list("pk", flat=True)
        )
        count = 0
        for member_id in invited:
            notification = notifications.notify(
                member_id, "event_invitation", actor_id=actor.pk, target_id=event.pk
            )
            count += notification is not None
    return count


# --- Answers ------------------------------------------------------------------------


def answer(member: Member, event: Event, status: str, guests: int = 0) -> RSVP:
    """Answer "going", "maybe" or "not_going" (guests count only for going),
    or change one's answer, while RSVPs are open and `member` may see the
    event.

    Going takes 1 + guests seats if they are free and no one is waiting;
    otherwise the member joins the end of the waitlist. Already going, fewer
    guests free seats and more need them free with no one waiting (else
    refused: the seat is kept). Waiting, Going again changes nothing, and
    fewer guests may let them in. Leaving "going" or the waitlist promotes
    the waitlist. Publishes who changed and whose position moved."""
    if status not in ANSWERS:
        raise NotAllowed(_("Answer Going, Maybe or Not going."))
    with transaction.atomic():
        event = _lock_seen(member, event.pk)
        _require_open(event)
        if status == Status.GOING:
            _check_guests(event, guests)
        else:
            guests = 0
        rsvp = RSVP.objects.filter(event=event, member=member).first()
        if rsvp is None:
            rsvp = RSVP(event=event, member=member)
        was, was_seq = rsvp.status, rsvp.waitlist_seq
        if status == Status.GOING and was in (Status.GOING, Status.WAITLISTED):
            if guests == rsvp.guests:
                return rsvp
            if guests > rsvp.guests:
                _check_more_guests(event, rsvp, guests - rsvp.guests)
        elif status == was:
            return rsvp
        elif status == Status.GOING:
            if _fits(event, 1 + guests):
                rsvp.status, rsvp.waitlist_seq = Status.GOING, None
            else:
                event.waitlist_seq += 1
                rsvp.status, rsvp.waitlist_seq = Status.WAITLISTED, event.waitlist_seq
        else:
            rsvp.status, rsvp.waitlist_seq = status, None
        rsvp.guests = guests
        event.version += 1
        rsvp.version = event.version
        rsvp.answered_at = timezone.now()
        rsvp.save()
        left = []
        if was == Status.WAITLISTED and rsvp.status != Status.WAITLISTED:
            left.append(was_seq)
        promoted = _recount_and_promote(event, [member.pk], left)
        for row in promoted:
            if row.pk == rsvp.pk:
                rsvp.status, rsvp.waitlist_seq = Status.GOING, None
    return rsvp


def _check_more_guests(event: Event, rsvp: RSVP, extra: int) -> None:
    """More guests for one going need that many seats free and no one
    waiting; one waiting cannot grow their party ahead of those behind."""
    if event.capacity is None:
        return
    if rsvp.status == Status.WAITLISTED:
        raise NotAllowed(
            _("You are on the waitlist: you can bring fewer guests, not more.")
        )
    if event.waitlist_count:
        raise NotAllowed(_("Others are waiting for a seat: you cannot add guests now."))
    if event.capacity - event.seats_taken < extra:
        raise NotAllowed(
            _("There are not enough free seats for more guests: you keep your seat.")
        )


def withdraw(member: Member, event: Event) -> None:
    """Take back one's answer (the row goes) while RSVPs are open; seats it
    held go to the waitlist. Publishes who changed and whose position
    moved."""
    with transaction.atomic():
        event = _lock_seen(member, event.pk)
        _require_open(event)
        _take_back(event, member.pk)


def _take_back(event: Event, member_id: int) -> None:
    """Inside the event's lock: delete the member's answer, if any, and give
    the seats it held to the waitlist."""
    rsvp = RSVP.objects.filter(event=event, member_id=member_id).first()
    if rsvp is None:
        return
    rsvp.delete()
    event.version += 1
    left = [rsvp.waitlist_seq] if rsvp.status == Status.WAITLISTED else []
    _recount_and_promote(event, [member_id], left)


def forget_unseen_answers(member_ids) -> None:
    """Take back the answers of these members to events not yet over that
    they may no longer see (they left or were banned from the community, a
    block came between them and the organiser, they were deactivated): a seat
    must not stay with, nor the attendee list name, someone who is no longer
    there. Each event under its lock, in id order; the seats go to the
    waitlist. Called by events/signals.py inside the cause's transaction."""
    now = timezone.now()
    for member in Member.objects.filter(pk__in=list(member_ids)):
        stale = RSVP.objects.filter(
            member=member, event__ends_at__gt=now, event__cancelled_at__isnull=True
        )
        if member.is_active:
            stale = stale.exclude(event__in=visible_events(member))
        for event_id in sorted(stale.values_list("event_id", flat=True)):
            _take_back(_lock(event_id), member.pk)
