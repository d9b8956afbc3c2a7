"""Leaving a community does not wipe the slate (issue 6, section 6).

A mute lived on the membership row, and leaving deleted the row: leave, join
again, and the mute was gone. Now the row stays (status LEFT) with what it
carries, and every reader treats LEFT as no membership. Everything here goes
through the real views, as a member would click it.
"""

import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.actions import make_friends
from chat.models import Mention, Message
from communities.models import Community, Membership
from tests.chat.conftest import refused
from tests.communities import make_community, put, start_topic
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

MUTED = "You are muted in this community for now."
HTMX = {"HTTP_HX_REQUEST": "true"}


def mute(community, member, hours=1):
    # No moderation screen yet: the mute is put on the row as a moderator's
    # action would.
    Membership.objects.filter(community=community, member=member).update(
        muted_until=timezone.now() + timedelta(hours=hours)
    )


def leave(client, community):
    return client.post(reverse("communities:leave", args=[community.pk]))


def join(client, community):
    return client.post(reverse("communities:join", args=[community.pk]))


def send(client, topic, body):
    return client.post(
        reverse("chat:message-create", kwargs={"topic_id": topic.pk}),
        {"body": body, "client_id": uuid.uuid4().hex},
        **HTMX,
    )


def membership(community, member) -> Membership:
    return Membership.objects.get(community=community, member=member)


def active_count(community) -> int:
    return community.memberships.filter(status=Membership.Status.ACTIVE).count()


def count_of(community) -> int:
    return Community.objects.get(pk=community.pk).member_count


@pytest.fixture
def open_community(owner, ben):
    community = make_community(owner, name="Tea", join_policy="open")
    put(community, ben)
    return community


def test_a_muted_member_who_leaves_and_rejoins_is_still_muted(
    owner, ben, open_community
):
    topic = start_topic(open_community, owner)
    mute(open_community, ben)
    client = client_for(ben)

    assert leave(client, open_community).status_code == 302
    assert join(client, open_community).status_code == 302
    response = send(client, topic, "free again?")

    assert membership(open_community, ben).is_active
    assert membership(open_community, ben).is_muted()
    assert refused(response) == (403, MUTED)
    assert not Message.objects.filter(body="free again?").exists()


def test_a_muted_member_who_rejoins_cannot_edit_either(owner, ben, open_community):
    topic = start_topic(open_community, owner)
    client = client_for(ben)
    assert send(client, topic, "before the mute").status_code == 201
    message = Message.objects.get(body="before the mute")
    mute(open_community, ben)
    leave(client, open_community)
    join(client, open_community)

    response = client.post(
        reverse("chat:message-edit", kwargs={"message_id": message.pk}),
        {"body": "rewritten"},
        **HTMX,
    )

    assert refused(response) == (403, MUTED)
    assert Message.objects.get(pk=message.pk).body == "before the mute"


def test_a_mute_survives_a_withdrawn_request_and_a_declined_one(owner, ben):
    community = make_community(owner, name="Careful", join_policy="approval")
    put(community, ben)
    topic = start_topic(community, owner)
    mute(community, ben)
    client = client_for(ben)
    moderator = client_for(owner)
    decide = reverse("communities:request-decide", args=[community.pk, ben.pk])

    leave(client, community)
    join(client, community)  # asks
    leave(client, community)  # withdraws
    join(client, community)  # asks again
    moderator.post(decide, {"decision": "decline"})
    join(client, community)  # and again
    moderator.post(decide, {"decision": "accept"})

    assert membership(community, ben).is_active
    assert refused(send(client, topic, "hello")) == (403, MUTED)


def test_a_mute_survives_leaving_a_secret_community_and_an_invitation_back(owner, ben):
    community = make_community(owner, name="Hidden", join_policy="secret")
    make_friends(owner, ben)
    put(community, ben)
    topic = start_topic(community, owner)
    mute(community, ben)
    client = client_for(ben)

    leave(client, community)
    client_for(owner).post(
        reverse("communities:invite", args=[community.pk]), {"friend": ben.pk}
    )
    join(client, community)  # accepts

    assert membership(community, ben).is_active
    assert refused(send(client, topic, "hello")) == (403, MUTED)


def test_a_mute_that_ran_out_while_away_is_over(owner, ben, open_community):
    topic = start_topic(open_community, owner)
    mute(open_community, ben, hours=-1)
    client = client_for(ben)

    leave(client, open_community)
    join(client, open_community)

    assert send(client, topic, "back").status_code == 201


def test_a_ban_cannot_be_escaped_by_leaving(owner, ben, open_community):
    topic = start_topic(open_community, owner)
    Membership.objects.filter(community=open_community, member=ben).update(
        status=Membership.Status.BANNED
    )
    Community.objects.filter(pk=open_community.pk).update(member_count=1)
    client = client_for(ben)

    leave(client, open_community)
    join(client, open_community)

    assert membership(open_community, ben).status == Membership.Status.BANNED
    assert count_of(open_community) == 1
    assert client.get(topic.get_absolute_url()).status_code == 404
    assert refused(send(client, topic, "let me in"))[0] == 404


def test_a_moderator_who_leaves_comes_back_as_a_plain_member(owner, ben):
    community = make_community(owner, name="Tea")
    put(community, ben, role=Membership.Role.MODERATOR)
    client = client_for(ben)

    leave(client, community)
    join(client, community)

    assert membership(community, ben).role == Membership.Role.MEMBER
    assert membership(community, ben).is_active


def test_a_member_who_left_and_rejoined_is_counted_and_listed_once(
    owner, ben, open_community
):
    client = client_for(ben)
    for _ in range(3):
        leave(client, open_community)
        join(client, open_community)

    members_page = client_for(owner).get(
        reverse("communities:members", args=[open_community.pk])
    )
    mine = client.get(reverse("communities:mine")).content.decode()

    assert count_of(open_community) == active_count(open_community) == 2
    assert members_page.content.decode().count(f'href="/members/{ben.nickname}/"') == 1
    assert mine.count(f'href="/communities/{open_community.pk}/"') == 1


def test_a_member_who_left_is_counted_and_listed_as_gone(owner, ben, open_community):
    client = client_for(ben)

    leave(client, open_community)
    page = client.get(reverse("communities:detail", args=[open_community.pk]))
    members_page = client_for(owner).get(
        reverse("communities:members", args=[open_community.pk])
    )
    mine = client.get(reverse("communities:mine")).content.decode()

    assert count_of(open_community) == active_count(open_community) == 1
    assert "Join this community" in page.content.decode()
    assert f'href="/members/{ben.nickname}/"' not in members_page.content.decode()
    assert f'href="/communities/{open_community.pk}/"' not in mine


def test_a_friend_who_left_can_be_invited_again(owner, ben, chika):
    community = make_community(owner, name="Hidden", join_policy="secret")
    make_friends(owner, chika)
    put(community, chika)
    leave(client_for(chika), community)

    members_page = client_for(owner).get(
        reverse("communities:members", args=[community.pk])
    )

    assert re.search(
        rf'<option value="{chika.pk}"[^>]*>\s*{chika.nickname}',
        members_page.content.decode(),
    )


def test_a_member_who_left_is_not_mentioned(owner, ben, open_community):
    topic = start_topic(open_community, owner)
    leave(client_for(ben), open_community)

    send(client_for(owner), topic, f"@{ben.nickname} are you there?")

    assert not Mention.objects.filter(member=ben).exists()
