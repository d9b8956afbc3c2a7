"""The one audience rule (accounts/audience.py), as a list filter
(`visible_q`, through Entry.objects.visible_to) and as a check of one thing
(`can_see`): both must give the same answer for every audience and viewer."""

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.actions import make_friends
from accounts.audience import Audience, can_see
from accounts.models import Block
from diary.models import Entry
from tests.conftest import MemberFactory

pytestmark = pytest.mark.django_db

ALL = {"owner", "friend", "fof", "other", "blocked", "blocker"}
# Audience -> the viewers who may see the owner's thing.
EXPECTED = {
    Audience.MEMBERS: {"owner", "friend", "fof", "other"},
    Audience.FRIENDS_OF_FRIENDS: {"owner", "friend", "fof"},
    Audience.FRIENDS: {"owner", "friend"},
    Audience.ONLY_ME: {"owner"},
}


@pytest.fixture
def people():
    people = {name: MemberFactory(nickname=name) for name in ALL}
    make_friends(people["owner"], people["friend"])
    make_friends(people["friend"], people["fof"])
    # A friend who blocked the owner, and a friend the owner blocked, both
    # of a mutual friend: neither sees anything of the owner.
    for name in ("blocked", "blocker"):
        make_friends(people["friend"], people[name])
    Block.objects.create(blocker=people["owner"], blocked=people["blocked"])
    Block.objects.create(blocker=people["blocker"], blocked=people["owner"])
    return people


@pytest.mark.parametrize("audience", list(EXPECTED))
def test_each_viewer_sees_what_the_audience_says(people, audience):
    owner = people["owner"]
    entry = Entry.objects.create(author=owner, title="t", body="b", audience=audience)
    listed = {
        name
        for name, viewer in people.items()
        if Entry.objects.visible_to(viewer).filter(pk=entry.pk).exists()
    }
    checked = {
        name for name, viewer in people.items() if can_see(viewer, owner, audience)
    }
    assert listed == checked == EXPECTED[audience]
    assert not Entry.objects.visible_to(AnonymousUser()).exists()
    assert not can_see(AnonymousUser(), owner, audience)


def test_an_inactive_owners_things_are_seen_by_no_one_else(people):
    owner = people["owner"]
    Entry.objects.create(author=owner, title="t", body="b", audience=Audience.MEMBERS)
    owner.is_active = False
    owner.save()
    assert not Entry.objects.visible_to(people["friend"]).exists()
    assert not can_see(people["friend"], owner, Audience.MEMBERS)


def test_the_list_filter_is_one_query_whatever_the_friends(
    people, django_assert_num_queries
):
    for n in range(20):
        make_friends(people["owner"], MemberFactory(nickname=f"pal{n}"))
    Entry.objects.create(
        author=people["owner"], title="t", body="b", audience=Audience.FRIENDS
    )
    with django_assert_num_queries(1):
        assert len(Entry.objects.visible_to(people["fof"])) == 0
