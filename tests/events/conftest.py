"""What the events tests start from: aiko's "Shimokita Coffee Club" with ben,
chika and daichi as members (made through the real actions), and an event
factory that writes the row directly (any state: full, past, cancelled).
What a test proves about a write goes through events.actions instead.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Membership
from events.models import Event
from tests.conftest import MemberFactory
from tests.factories import coffee_club


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # MemberFactory hashes one password per member; the concurrency tests make
    # dozens.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def club(aiko, ben, chika, daichi):
    """aiko's open community, ben, chika and daichi active members of it."""
    return coffee_club(aiko, ben, chika, daichi)


def make_event(community, organiser=None, **fields) -> Event:
    """An event of `community` a week from now, two hours long, organised by
    its owner, with no capacity unless `fields` say otherwise."""
    starts_at = fields.pop("starts_at", timezone.now() + timedelta(days=7))
    return Event.objects.create(
        community=community,
        organiser=organiser or community.owner,
        title=fields.pop("title", "Tasting walk"),
        starts_at=starts_at,
        ends_at=fields.pop("ends_at", starts_at + timedelta(hours=2)),
        **fields,
    )


@pytest.fixture
def event_factory(db):
    return make_event


@pytest.fixture
def event(club):
    """An upcoming event in the club, organised by aiko, no capacity."""
    return make_event(club)


def members_of(community, count: int, prefix: str = "guest") -> list:
    """`count` new active members of `community` (rows written directly)."""
    members = [MemberFactory(nickname=f"{prefix}{i}") for i in range(count)]
    Membership.objects.bulk_create(
        Membership(community=community, member=member) for member in members
    )
    return members
