"""chat/access.py called directly: what a check costs.

Every topic page, fragment, write and socket starts with one of these checks,
and each caller goes on to read the community of what it got back: that comes
with the answer, in a fixed number of queries. (Who is let in is pinned through
the real views and the socket: tests/communities/test_access.py,
tests/chat/test_topic_streams.py.)
"""

import pytest

from chat import access
from communities.models import JoinPolicy

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
