"""The home page: friends' and friends of friends' diary entries as their
audiences allow, newest first, keyset-paginated; topics of one's communities
with unread messages; friend requests waiting. Its queries stay flat as rows
grow, as do a member's entry list's."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.audience import Audience
from accounts.models import FriendRequest
from diary import selectors
from diary.models import Entry
from tests.conftest import MemberFactory, client_for
from tests.diary.conftest import make_entry
from tests.factories import (
    CommunityFactory,
    MembershipFactory,
    MessageFactory,
    TopicFactory,
)

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    return [entry.title for entry in response.context["entries"]]


def test_the_feed_shows_friends_and_friends_of_friends_as_audiences_allow(
    cast, clients
):
    # From eri's side: ben is her friend, aiko a friend of a friend.
    owner, friend, fof = cast["owner"], cast["friend"], cast["fof"]
    for audience in Audience.values:
        make_entry(owner, audience, title=f"aiko {audience}")
        make_entry(friend, audience, title=f"ben {audience}")
    make_entry(fof, Audience.MEMBERS, title="eri's own")
    make_entry(cast["other"], Audience.MEMBERS, title="a stranger's")
    make_entry(cast["blocked"], Audience.MEMBERS, title="gen's")

    shown = set(titles(clients["fof"].get("/")))

    assert shown == {
        "aiko members",
        "aiko fof",
        "ben members",
        "ben fof",
        "ben friends",
        # gen is ben's friend, so a friend of a friend of eri's.
        "gen's",
    }


def test_the_feed_leaves_out_members_hidden_by_a_block(cast, clients):
    make_entry(cast["blocked"], Audience.MEMBERS, title="gen's")
    make_entry(cast["blocker"], Audience.MEMBERS, title="hana's")
    make_entry(cast["friend"], Audience.MEMBERS, title="ben's")
    assert titles(clients["owner"].get("/")) == ["ben's"]


def test_the_feed_is_newest_first_and_pages_on_a_cursor(cast, clients):
    start = timezone.now() - timedelta(days=1)
    for n in range(selectors.FEED_SIZE + 5):
        Entry.objects.create(
            author=cast["friend"],
            title=f"Day {n:02}",
            body="b",
            audience=Audience.FRIENDS,
            # Two at each instant: the id breaks the tie.
            created_at=start + timedelta(minutes=n // 2),
        )
    first = clients["owner"].get("/")
    expected = [f"Day {n:02}" for n in reversed(range(selectors.FEED_SIZE + 5))]
    assert titles(first) == expected[: selectors.FEED_SIZE]
    cursor = first.context["older_cursor"]
    assert f'?before={cursor}" rel="next">Older entries</a>' in first.text

    older = clients["owner"].get("/", {"before": cursor})
    assert titles(older) == expected[selectors.FEED_SIZE :]
    assert older.context["older_cursor"] is None
    assert "Older entries" not in older.text


@pytest.mark.parametrize("cursor", ["x", "1-", "-1-5", "99999999999999999999-1", "5-0"])
def test_a_broken_cursor_is_a_clear_400(cast, clients, cursor):
    response = clients["owner"].get("/", {"before": cursor})
    assert response.status_code == 400


def test_an_empty_feed_says_so(cast, clients):
    response = clients["other"].get("/")
    assert "Your friends have not written anything you can see yet." in response.text


def _home_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    assert response.status_code == 200
    return len(queries)


def _grow(cast, n):
    """n entries by friends and friends of friends, n unread messages in n
    topics of aiko's communities, and n friend requests to aiko."""
    owner = cast["owner"]
    friend_of_friend = cast["fof"]
    community = CommunityFactory(owner=cast["friend"])
    MembershipFactory(community=community, member=owner)
    for i in range(n):
        if i % 2:
            make_entry(cast["friend"], Audience.FRIENDS, title=f"ben {i}")
        else:
            make_entry(friend_of_friend, Audience.FRIENDS_OF_FRIENDS, title=f"eri {i}")
        topic = TopicFactory(community=community)
        MessageFactory(topic=topic, author=cast["friend"])
        FriendRequest.objects.create(
            from_member=MemberFactory(), to_member=owner, message="hello"
        )


def test_the_home_page_queries_stay_flat_as_rows_grow(cast, settings):
    client = client_for(cast["owner"])
    _grow(cast, 10)
    with_ten = _home_queries(client)
    _grow(cast, 90)
    with_hundred = _home_queries(client)
    assert with_ten == with_hundred


def test_the_home_page_lists_unread_topics_and_friend_requests(cast, clients):
    _grow(cast, 2)
    response = clients["owner"].get("/")
    assert len(response.context["unread_topics"]) == 2
    assert all(topic.unread == 1 for topic in response.context["unread_topics"])
    assert response.text.count(">Accept</button>") == 2
    assert "New activity in your communities" in response.text
    assert "Friend requests" in response.text


def test_read_topics_and_other_communities_are_not_listed(cast, clients):
    from communities.models import TopicRead

    owner = cast["owner"]
    mine = CommunityFactory(owner=cast["friend"])
    MembershipFactory(community=mine, member=owner)
    read = TopicFactory(community=mine, title="Already read")
    message = MessageFactory(topic=read, author=cast["friend"])
    TopicRead.objects.create(topic=read, member=owner, last_read_id=message.pk)
    elsewhere = TopicFactory(community=CommunityFactory(owner=cast["friend"]))
    MessageFactory(topic=elsewhere, author=cast["friend"])
    unread = TopicFactory(community=mine, title="Unread one")
    MessageFactory(topic=unread, author=cast["friend"])

    response = clients["owner"].get("/")

    assert [t.title for t in response.context["unread_topics"]] == ["Unread one"]


def test_a_members_entry_list_pages_and_its_queries_stay_flat(cast):
    client = client_for(cast["friend"])
    url = reverse("diary:member-entries", kwargs={"nickname": "aiko"})

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured), response

    for _ in range(10):
        make_entry(cast["owner"], Audience.FRIENDS)
    with_ten, _response = queries()
    for _ in range(90):
        make_entry(cast["owner"], Audience.FRIENDS)
    with_hundred, response = queries()
    assert with_ten == with_hundred
    assert len(response.context["page"].object_list) == 20
    assert 'rel="next"' in response.text
