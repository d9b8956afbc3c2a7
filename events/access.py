"""Who may see and answer an event. The event's pages, its writes and the
live socket's `event=<id>` stream all go through these functions, so a page
and its live updates cannot disagree.

The rule (event_visible_q): the viewer is an active member of the event's
community (as for its topics: a secret community's events are as secret as
its topics, and a banned member, an invitee or one who asked to join sees
none), and no block stands between the viewer and the organiser. An event
the viewer may not see answers exactly as an id that does not exist (404).
"""

from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import Block
from communities.access import Forbidden
from communities.models import Community, Membership, TopicPolicy
from events.models import RSVP, Event
from project.socket_auth import visible_to_many


def _event_id(value) -> int:
    """An event id from a URL or a socket's query; anything else is "not
    found", as an id that does not exist is."""
    try:
        event_id = int(value)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 0 < event_id < 2**63:
        raise Http404
    return event_id


def event_visible_q(viewer) -> Q:
    """Events `viewer` may see, as a filter on Event rows (also used inside
    annotations: the socket's batched check)."""
    member_of = Membership.objects.filter(
        community=OuterRef("community"),
        member=viewer,
        status=Membership.Status.ACTIVE,
    )
    blocked = Block.objects.filter(
        Q(blocker=viewer, blocked=OuterRef("organiser"))
        | Q(blocker=OuterRef("organiser"), blocked=viewer)
    )
    return Q(Exists(member_of)) & ~Q(Exists(blocked))


def viewers_q(event) -> Q:
    """Members who may see `event`, as a filter on Member rows: event_visible_q
    with each row as the viewer (those an invitation may reach)."""
    return Q(
        Exists(
            Event.objects.filter(pk=event.pk).filter(
                event_visible_q(OuterRef(OuterRef("pk")))
            )
        )
    )


def visible_events(viewer):
    if not viewer.is_authenticated:
        return Event.objects.none()
    return Event.objects.filter(event_visible_q(viewer))


def access_event(member, event_id) -> Event:
    """The event (with its community and organiser) if `member` may see it,
    else Http404."""
    event = (
        visible_events(member)
        .select_related("community", "organiser")
        .filter(pk=_event_id(event_id))
        .first()
    )
    if event is None:
        raise Http404
    return event


def membership_in(member, event) -> Membership | None:
    return Membership.objects.filter(
        community_id=event.community_id,
        member=member,
        status=Membership.Status.ACTIVE,
    ).first()


def can_organise(member, event, membership: Membership | None = None) -> bool:
    """The organiser, the community's owner and moderators, and staff may
    edit, cancel and run an event."""
    if member.pk == event.organiser_id or member.is_staff:
        return True
    membership = membership or membership_in(member, event)
    return membership is not None and membership.is_moderator


def can_create_event(
    member, community: Community, membership: Membership | None
) -> bool:
    """Any active member may create events, unless the community keeps them
    to its owner and moderators (Community.event_policy; staff members too)."""
    if membership is None or not membership.is_active:
        return False
    if community.event_policy == TopicPolicy.MODERATORS:
        return membership.is_moderator or member.is_staff
    return True


def may_read_place(
    viewer, event, status: str | None, organises: bool | None = None
) -> bool:
    """Whether `viewer`, whose answer is `status` (None: none), may read the
    event's place: anyone who sees the event, unless it is shown only to
    members going (and to those who run the event: `organises`, when the
    caller knows it already)."""
    if not event.place_going_only or status == RSVP.Status.GOING:
        return True
    return can_organise(viewer, event) if organises is None else organises


def access_organised_event(member, event_id) -> Event:
    """An event `member` may run (organiser tools). One who may see it but not
    run it is refused (403); anyone else gets 404."""
    event = access_event(member, event_id)
    if not can_organise(member, event):
        raise Forbidden(
            _("Only the organiser and the community's moderators can do that.")
        )
    return event


def wanted_events(event_ids) -> list[int]:
    """The event ids a socket asks for, each once, in the order asked;
    Http404 for one that is not an id."""
    return list(dict.fromkeys(_event_id(event_id) for event_id in event_ids))


def access_events_of_many(asked: dict) -> dict:
    """For the live sockets opening together (chat/consumers.py): `asked` maps
    a key to (a member or a SocketMember, event ids from wanted_events); the
    answer maps each key to those ids, or to Http404 if its member may not see
    one of them. One query for all (project/socket_auth.visible_to_many, with
    event_visible_q: the page's very rule)."""
    return visible_to_many(Event, event_visible_q, asked)
