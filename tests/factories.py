"""Factories for communities, memberships, topics and messages.

They write rows directly, for tests that need a state to start from (a banned
member, 120 old messages). What a test proves about a write goes through the
real action or view instead. Denormalised counters (Community.member_count,
Topic.message_count) are not kept by these factories.
"""

import uuid

import factory
from django.utils import timezone

from chat import text
from chat.models import Message
from communities.models import Community, JoinPolicy, Membership, Topic
from tests.conftest import MemberFactory


class CommunityFactory(factory.django.DjangoModelFactory):
    """A community with its owner as an active member (role owner)."""

    class Meta:
        model = Community
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Community {n}")
    description = "A place to talk."
    join_policy = JoinPolicy.OPEN
    owner = factory.SubFactory(MemberFactory)
    member_count = 1

    @factory.post_generation
    def owner_membership(obj, create, extracted, **kwargs):
        if create:
            Membership.objects.create(
                community=obj, member=obj.owner, role=Membership.Role.OWNER
            )


class MembershipFactory(factory.django.DjangoModelFactory):
    """An active plain member unless `status` / `role` say otherwise."""

    class Meta:
        model = Membership

    community = factory.SubFactory(CommunityFactory)
    member = factory.SubFactory(MemberFactory)
    role = Membership.Role.MEMBER
    status = Membership.Status.ACTIVE


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic

    community = factory.SubFactory(CommunityFactory)
    title = factory.Sequence(lambda n: f"Topic {n}")
    created_by = factory.SelfAttribute("community.owner")


class MessageFactory(factory.django.DjangoModelFactory):
    """A saved message, its body rendered as chat.text would (no mentions)."""

    class Meta:
        model = Message

    topic = factory.SubFactory(TopicFactory)
    author = factory.SubFactory(MemberFactory)
    body = factory.Sequence(lambda n: f"message {n}")
    body_html = factory.LazyAttribute(lambda o: text.render(o.body, []))
    client_id = factory.LazyFunction(lambda: uuid.uuid4().hex)
    created_at = factory.LazyFunction(timezone.now)


def coffee_club(owner, *members, **fields) -> Community:
    """aiko's open "Shimokita Coffee Club", made through the real actions (the
    owner's membership, member counts), with `members` joined."""
    from communities import actions
    from communities.models import Category, TopicPolicy

    community = actions.create_community(
        owner=owner,
        **{
            "name": "Shimokita Coffee Club",
            "category": Category.FOOD,
            "join_policy": JoinPolicy.OPEN,
            "topic_policy": TopicPolicy.MEMBERS,
            **fields,
        },
    )
    for member in members:
        actions.join_community(member=member, community=community)
    return community
