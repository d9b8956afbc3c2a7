"""What the tests of the event's page and of its live stream share: a viewer
the event's page must not show it to, made one way or another."""

from accounts.models import Block
from communities.models import Membership
from tests.conftest import MemberFactory

# The ways a member may not see an event (events/access.py: event_visible_q).
UNSEEING = ("stranger", "banned", "blocked", "blocker")


def unseeing_viewer(event, who: str):
    """eri, who may not see `event`: no member of its community ("stranger"),
    banned from it, or a member whom its organiser blocked ("blocked") or who
    blocked its organiser ("blocker")."""
    viewer = MemberFactory(nickname="eri")
    if who == "banned":
        Membership.objects.create(
            community=event.community, member=viewer, status=Membership.Status.BANNED
        )
    elif who in ("blocked", "blocker"):
        Membership.objects.create(community=event.community, member=viewer)
        pair = (event.organiser, viewer)
        blocker, blocked = pair if who == "blocked" else pair[::-1]
        Block.objects.create(blocker=blocker, blocked=blocked)
    return viewer
