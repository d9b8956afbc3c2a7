"""aiko's Shimokita Coffee Club with its cast: aiko the owner, daichi a
moderator, ben and chika plain members; a topic in it; a staff member.

The live fixtures (`open_socket`, `live_layer`) are the chat tests' own.
"""

import pytest

from communities import actions
from communities.models import JoinPolicy, Membership
from moderation.models import ModerationAction
from tests.chat.conftest import (  # noqa: F401 (fixtures)
    _fast_password_hashing,
    live_layer,
    open_socket,
    open_tab,
)
from tests.factories import TopicFactory, coffee_club


@pytest.fixture
def club(aiko, daichi, ben, chika):
    community = coffee_club(aiko, daichi, ben, chika)
    actions.set_role(
        community=community, member_id=daichi.pk, role=Membership.Role.MODERATOR
    )
    return community


@pytest.fixture
def secret_club(aiko):
    """aiko's secret community, which no one else knows of."""
    return coffee_club(aiko, name="Hidden Room", join_policy=JoinPolicy.SECRET)


@pytest.fixture
def topic(club):
    return TopicFactory(community=club, title="Beans of the week")


@pytest.fixture
def staff(member_factory):
    return member_factory(nickname="staffer", is_staff=True)


def membership(community, member) -> Membership:
    return Membership.objects.get(community=community, member=member)


def audit_kinds(community) -> list[str]:
    return list(
        ModerationAction.objects.filter(community=community)
        .order_by("id")
        .values_list("kind", flat=True)
    )
