"""Reads of events for the lists, the month view, the feed and the invitation
form. Each starts from who is looking (events.access.visible_events: the one
visibility rule), and each is one query however many events and answers
there are: the counts shown are the event's own columns, and the viewer's
answer rides along as an annotation."""

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from accounts.audience import friend_ids
from accounts.models import Member
from events.access import viewers_q, visible_events
from events.models import RSVP

# The community's page shows its next few events.
COMMUNITY_PAGE_EVENTS = 5
# The month view shows at most this many events (a month of a busy member's
# communities fits many times over).
MONTH_MAX = 500
# A feed lists at most this many events, the latest first.
FEED_MAX = 500


def _listed(events, viewer):
    """With the community (for its name) and the viewer's own answer."""
    mine = RSVP.objects.filter(event=OuterRef("pk"), member=viewer)
    return events.select_related("community").annotate(
        my_status=Subquery(mine.values("status")[:1])
    )


def upcoming_events(viewer, *, now=None, community=None):
    """Events not over yet, soonest first (an event under way included)."""
    events = visible_events(viewer).filter(ends_at__gt=now or timezone.now())
    if community is not None:
        events = events.filter(community=community)
    return _listed(events, viewer).order_by("starts_at", "pk")


def next_events_of(viewer, community) -> list:
    """The next few events of `community`, for its page."""
    return list(upcoming_events(viewer, community=community)[:COMMUNITY_PAGE_EVENTS])


def past_events(viewer, *, now=None):
    """Events that are over, the most recent first."""
    events = visible_events(viewer).filter(ends_at__lte=now or timezone.now())
    return _listed(events, viewer).order_by("-starts_at", "-pk")


def events_between(viewer, first, after):
    """Events under way at some moment from `first` to before `after`,
    in the order they start (at most MONTH_MAX)."""
    events = visible_events(viewer).filter(starts_at__lt=after, ends_at__gte=first)
    return list(_listed(events, viewer).order_by("starts_at", "pk")[:MONTH_MAX])


def going_events(member):
    """The events of `member`'s feed: those they are going to and may still
    see, the latest first (at most FEED_MAX)."""
    events = visible_events(member).filter(
        rsvps__member=member, rsvps__status=RSVP.Status.GOING
    )
    return list(events.order_by("-starts_at", "-pk")[:FEED_MAX])


def invitable_friends(actor, event):
    """`actor`'s friends who may be invited to `event`, by nickname: those who
    may see it (events.access.viewers_q: active members of its community, no
    block with its organiser) and have not answered it. The rule
    events.actions.invite_friends applies to the ids it is given."""
    return (
        Member.objects.filter(is_active=True, pk__in=friend_ids(actor))
        .filter(viewers_q(event))
        .exclude(pk__in=RSVP.objects.filter(event=event).values("member_id"))
        .order_by("nickname_key")
    )
