"""chat/access.py called directly: what a check costs.

Every topic page, fragment, write and socket starts with one of these checks,
and each caller goes on to read the community of what it got back: that comes
with the answer, in a fixed number of queries. (Who is let in is pinned through
the real views and the socket: tests/communities/test_access.py,
tests/chat/test_topic_streams.py.)
"""

import pytest
from django.contrib.auth.models import AnonymousUser

from chat import access
from communities.access import AccessDenied
from communities.models import JoinPolicy, Membership
from tests.factories import CommunityFactory, TopicFactory

pytestmark = pytest.mark.django_db


def test_access_topic_answers_in_two_queries_with_the_communities_loaded(
    member, membership, topic, django_assert_num_queries
):
    with django_assert_num_queries(2):
        found, found_membership = access.access_topic(member, topic.pk)
        assert found.community.name == "Coffee Club"
        assert found_membership.community.name == "Coffee Club"

    assert (found, found_membership) == (topic, membership)


def test_community_to_join_answers_in_two_queries_with_the_community_loaded(
    member, topic, community, django_assert_num_queries
):
    assert community.join_policy == JoinPolicy.OPEN

    with django_assert_num_queries(2):
        found, found_membership = access.community_to_join(member, topic.pk)
        assert found.name == "Coffee Club"

    assert (found, found_membership) == (community, None)


def test_access_topics_answers_for_every_topic_in_one_query(
    member, membership, community, django_assert_num_queries
):
    topics = TopicFactory.create_batch(8, community=community)
    asked = [str(topic.pk) for topic in reversed(topics)]

    with django_assert_num_queries(1):
        found = access.access_topics(member, asked + asked[:2])

    # Each once, in the order asked.
    assert found == [int(pk) for pk in asked]


def test_access_topics_of_none_asks_nothing(member, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert access.access_topics(member, []) == []


@pytest.mark.parametrize(
    "status",
    [None, *Membership.Status.values],
    ids=lambda status: status or "stranger",
)
@pytest.mark.parametrize("secret", [False, True], ids=["open", "secret"])
def test_access_topics_lets_in_exactly_whom_access_topic_lets_in(
    member, status, secret
):
    community = CommunityFactory(
        join_policy=JoinPolicy.SECRET if secret else JoinPolicy.OPEN
    )
    topic = TopicFactory(community=community)
    readable = TopicFactory(community=CommunityFactory())
    Membership.objects.create(community=readable.community, member=member)
    if status is not None:
        Membership.objects.create(community=community, member=member, status=status)
    try:
        access.access_topic(member, topic.pk)
    except AccessDenied:
        allowed = False
    else:
        allowed = True

    if allowed:
        assert access.access_topics(member, [readable.pk, topic.pk]) == [
            readable.pk,
            topic.pk,
        ]
    else:
        with pytest.raises(AccessDenied):
            access.access_topics(member, [readable.pk, topic.pk])
    assert allowed == (status == Membership.Status.ACTIVE)


@pytest.mark.parametrize("topic_id", ["999999", "1 OR 1=1", "", "-1"])
def test_access_topics_refuses_an_unknown_or_malformed_id(member, topic_id):
    with pytest.raises(AccessDenied):
        access.access_topics(member, [topic_id])


def test_access_topics_refuses_everyone_logged_out(membership, topic):
    with pytest.raises(AccessDenied):
        access.access_topics(AnonymousUser(), [topic.pk])
