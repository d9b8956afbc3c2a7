"""Community writes called directly: join policies, requests, invitations,
leaving, roles, creation and topics. The views run the same functions; these
tests pin the rules themselves, with the real database."""

import io

import pytest
from django.db import IntegrityError, transaction
from PIL import Image

from accounts.actions import make_friends
from accounts.images import ImageRejected
from accounts.models import Block, Friendship
from chat.models import Message
from communities import actions
from communities.access import NotAllowed
from communities.models import Community, Membership, Topic
from tests.communities import (
    fake_image_upload,
    make_community,
    png_upload,
    put,
    start_topic,
)


def count_of(community) -> int:
    return Community.objects.get(pk=community.pk).member_count


def status_of(community, member) -> str | None:
    membership = Membership.objects.filter(community=community, member=member).first()
    return membership.status if membership else None


# --- Joining ----------------------------------------------------------------------


def test_a_new_community_has_its_owner_as_only_member(owner):
    community = make_community(owner, name="Coffee")

    membership = Membership.objects.get(community=community)
    assert membership.member == owner
    assert membership.role == Membership.Role.OWNER
    assert membership.status == Membership.Status.ACTIVE
    assert count_of(community) == 1


def test_open_community_is_joined_at_once_and_counts_one_more(owner, ben):
    community = make_community(owner, join_policy="open")

    membership = actions.join_community(member=ben, community=community)

    assert membership.status == Membership.Status.ACTIVE
    assert membership.role == Membership.Role.MEMBER
    assert status_of(community, ben) == "active"
    assert count_of(community) == 2


def test_joining_twice_counts_once(owner, ben):
    community = make_community(owner, join_policy="open")
    actions.join_community(member=ben, community=community)

    actions.join_community(member=ben, community=community)

    assert count_of(community) == 2
    assert Membership.objects.filter(community=community, member=ben).count() == 1


def test_approval_community_join_is_a_pending_request_not_yet_counted(owner, ben):
    community = make_community(owner, join_policy="approval")

    membership = actions.join_community(member=ben, community=community)

    assert membership.status == Membership.Status.PENDING
    assert count_of(community) == 1


def test_accepted_request_makes_an_active_member_counted(owner, ben):
    community = make_community(owner, join_policy="approval")
    actions.join_community(member=ben, community=community)

    actions.decide_request(community=community, member_id=ben.pk, accept=True)

    assert status_of(community, ben) == "active"
    assert count_of(community) == 2


def test_declined_request_is_dropped_and_the_requester_may_ask_again(owner, ben):
    community = make_community(owner, join_policy="approval")
    actions.join_community(member=ben, community=community)

    actions.decide_request(community=community, member_id=ben.pk, accept=False)

    assert status_of(community, ben) == "left"
    assert count_of(community) == 1
    again = actions.join_community(member=ben, community=community)
    assert again.status == Membership.Status.PENDING


def test_deciding_a_request_twice_is_refused_and_changes_nothing(owner, ben):
    community = make_community(owner, join_policy="approval")
    actions.join_community(member=ben, community=community)
    actions.decide_request(community=community, member_id=ben.pk, accept=True)

    with pytest.raises(NotAllowed, match="no longer open"):
        actions.decide_request(community=community, member_id=ben.pk, accept=False)

    assert status_of(community, ben) == "active"
    assert count_of(community) == 2


def test_an_active_member_is_not_a_request_to_decide(owner, ben):
    community = make_community(owner, join_policy="open")
    actions.join_community(member=ben, community=community)

    with pytest.raises(NotAllowed):
        actions.decide_request(community=community, member_id=ben.pk, accept=False)

    assert status_of(community, ben) == "active"


def test_secret_community_cannot_be_joined_without_an_invitation(owner, ben):
    community = make_community(owner, join_policy="secret")

    with pytest.raises(NotAllowed, match="invitation only"):
        actions.join_community(member=ben, community=community)

    assert status_of(community, ben) is None
    assert count_of(community) == 1


@pytest.mark.parametrize("policy", ["open", "approval", "secret"])
def test_banned_member_cannot_join_again(owner, ben, policy):
    community = make_community(owner, join_policy=policy)
    put(community, ben, status="banned")

    with pytest.raises(NotAllowed, match="cannot join"):
        actions.join_community(member=ben, community=community)

    assert status_of(community, ben) == "banned"
    assert count_of(community) == 1


def test_banned_member_cannot_lift_the_ban_by_leaving(owner, ben):
    community = make_community(owner, join_policy="open")
    put(community, ben, status="banned")

    actions.leave_community(member=ben, community=community)

    assert status_of(community, ben) == "banned"
    with pytest.raises(NotAllowed):
        actions.join_community(member=ben, community=community)


# --- Invitations ------------------------------------------------------------------


def test_member_invites_a_friend_who_accepts_and_is_counted(owner, ben, chika):
    community = make_community(owner, join_policy="secret")
    put(community, ben)
    make_friends(ben, chika)

    invited = actions.invite_friend(
        inviter=ben, community=community, friend_id=chika.pk
    )

    assert invited.status == Membership.Status.INVITED
    assert invited.invited_by == ben
    assert count_of(community) == 2
    assert community in Community.objects.visible_to(chika)

    actions.join_community(member=chika, community=community)

    assert status_of(community, chika) == "active"
    assert count_of(community) == 3


def test_declining_an_invitation_drops_it_and_the_secret_again(owner, ben):
    community = make_community(owner, join_policy="secret")
    make_friends(owner, ben)
    actions.invite_friend(inviter=owner, community=community, friend_id=ben.pk)

    actions.leave_community(member=ben, community=community)

    assert status_of(community, ben) == "left"
    assert count_of(community) == 1
    assert community not in Community.objects.visible_to(ben)


def test_inviting_someone_who_is_not_a_friend_is_refused(owner, ben):
    community = make_community(owner, join_policy="secret")

    with pytest.raises(NotAllowed, match="only invite your friends"):
        actions.invite_friend(inviter=owner, community=community, friend_id=ben.pk)

    assert status_of(community, ben) is None


def test_a_friendship_in_one_direction_only_is_not_enough(owner, ben):
    community = make_community(owner, join_policy="secret")
    Friendship.objects.create(member=ben, friend=owner)

    with pytest.raises(NotAllowed):
        actions.invite_friend(inviter=owner, community=community, friend_id=ben.pk)

    assert status_of(community, ben) is None


@pytest.mark.parametrize("who_blocks", ["inviter", "friend"])
def test_inviting_a_friend_across_a_block_is_refused(owner, ben, who_blocks):
    community = make_community(owner, join_policy="secret")
    make_friends(owner, ben)
    if who_blocks == "inviter":
        Block.objects.create(blocker=owner, blocked=ben)
    else:
        Block.objects.create(blocker=ben, blocked=owner)

    with pytest.raises(NotAllowed, match="only invite your friends"):
        actions.invite_friend(inviter=owner, community=community, friend_id=ben.pk)

    assert status_of(community, ben) is None


def test_inviting_a_deactivated_friend_is_refused(owner, ben):
    community = make_community(owner, join_policy="secret")
    make_friends(owner, ben)
    ben.is_active = False
    ben.save()

    with pytest.raises(NotAllowed):
        actions.invite_friend(inviter=owner, community=community, friend_id=ben.pk)

    assert status_of(community, ben) is None


@pytest.mark.parametrize("status", ["active", "invited", "banned"])
def test_inviting_someone_already_there_is_refused_and_changes_nothing(
    owner, ben, status
):
    community = make_community(owner, join_policy="secret")
    make_friends(owner, ben)
    put(community, ben, status=status)
    before = count_of(community)

    with pytest.raises(NotAllowed, match="already"):
        actions.invite_friend(inviter=owner, community=community, friend_id=ben.pk)

    assert status_of(community, ben) == status
    assert count_of(community) == before


def test_inviting_a_friend_whose_join_request_is_pending_lets_them_in(owner, ben):
    community = make_community(owner, join_policy="approval")
    asked = actions.join_community(member=ben, community=community)
    assert asked.status == Membership.Status.PENDING
    make_friends(owner, ben)

    invited = actions.invite_friend(
        inviter=owner, community=community, friend_id=ben.pk
    )

    # They asked, a member vouched for them: in at once, and counted.
    assert invited.status == Membership.Status.ACTIVE
    assert status_of(community, ben) == "active"
    assert count_of(community) == 2
    topic = start_topic(community, ben, title="Hello from ben")
    assert topic.community == community


# --- Leaving ----------------------------------------------------------------------


def test_leaving_counts_one_less(owner, ben):
    community = make_community(owner, join_policy="open")
    actions.join_community(member=ben, community=community)

    actions.leave_community(member=ben, community=community)

    assert status_of(community, ben) == "left"
    assert count_of(community) == 1


def test_withdrawing_a_request_does_not_change_the_count(owner, ben):
    community = make_community(owner, join_policy="approval")
    actions.join_community(member=ben, community=community)

    actions.leave_community(member=ben, community=community)

    assert status_of(community, ben) == "left"
    assert count_of(community) == 1


def test_the_owner_cannot_leave(owner):
    community = make_community(owner)

    with pytest.raises(NotAllowed, match="owner cannot leave"):
        actions.leave_community(member=owner, community=community)

    assert status_of(community, owner) == "active"
    assert count_of(community) == 1


# --- Roles ------------------------------------------------------------------------


def test_a_community_has_exactly_one_owner(owner, ben):
    community = make_community(owner)

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(
            community=community, member=ben, role=Membership.Role.OWNER
        )

    assert list(
        Membership.objects.filter(
            community=community, role=Membership.Role.OWNER
        ).values_list("member", flat=True)
    ) == [owner.pk]


def test_owner_makes_a_member_moderator_and_back(owner, ben):
    community = make_community(owner)
    put(community, ben)

    actions.set_role(community=community, member_id=ben.pk, role="moderator")
    assert Membership.objects.get(community=community, member=ben).is_moderator

    actions.set_role(community=community, member_id=ben.pk, role="member")
    membership = Membership.objects.get(community=community, member=ben)
    assert membership.role == Membership.Role.MEMBER
    assert not membership.is_moderator


def test_the_owner_role_cannot_be_given_or_taken_by_set_role(owner, ben):
    community = make_community(owner)
    put(community, ben)

    with pytest.raises(NotAllowed):
        actions.set_role(community=community, member_id=ben.pk, role="owner")
    with pytest.raises(NotAllowed):
        actions.set_role(community=community, member_id=owner.pk, role="member")

    roles = dict(
        Membership.objects.filter(community=community).values_list("member", "role")
    )
    assert roles == {owner.pk: "owner", ben.pk: "member"}


@pytest.mark.parametrize("status", ["pending", "invited", "banned"])
def test_only_active_members_can_be_made_moderators(owner, ben, status):
    community = make_community(owner, join_policy="approval")
    put(community, ben, status=status)

    with pytest.raises(NotAllowed):
        actions.set_role(community=community, member_id=ben.pk, role="moderator")

    assert Membership.objects.get(community=community, member=ben).role == "member"


def test_a_banned_moderator_is_no_moderator(owner, ben):
    community = make_community(owner)
    membership = put(community, ben, status="banned", role="moderator")

    assert not membership.is_moderator


# --- Creating and editing ---------------------------------------------------------


def test_a_name_taken_in_another_case_or_width_is_refused(owner):
    make_community(owner, name="Coffee Club")

    for taken in ("coffee club", "COFFEE CLUB", "Ｃｏｆｆｅｅ Ｃｌｕｂ"):
        with pytest.raises(NotAllowed, match="already exists"):
            make_community(owner, name=taken)

    assert Community.objects.count() == 1
    assert Membership.objects.count() == 1


def test_icon_is_re_encoded_as_a_square_jpeg_without_exif(owner):
    community = make_community(owner, icon=png_upload(size=(300, 200)))

    assert community.icon.name.endswith(".jpg")
    with community.icon.open("rb") as stored:
        data = stored.read()
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert image.size == (256, 256)
    assert not image.getexif()
    assert b"Secret Camera" not in data


def test_a_fake_image_creates_nothing(owner, settings):
    with pytest.raises(ImageRejected, match="not an image"):
        make_community(owner, name="Fake", icon=fake_image_upload())

    assert not Community.objects.exists()
    assert not Membership.objects.exists()
    icons = settings.MEDIA_ROOT / "community-icons"
    assert not icons.exists() or not any(icons.iterdir())


def test_editing_keeps_the_name_unique(owner):
    make_community(owner, name="Tea")
    community = make_community(owner, name="Coffee")

    with pytest.raises(NotAllowed, match="already exists"):
        actions.update_community(
            community=community,
            name="TEA",
            description="",
            category="food",
            join_policy="open",
            topic_policy="members",
        )

    assert Community.objects.get(pk=community.pk).name == "Coffee"


def test_a_refused_edit_keeps_the_old_icon_and_stores_no_new_file(owner, settings):
    make_community(owner, name="Tea")
    community = make_community(owner, name="Coffee", icon=png_upload())
    old_icon = community.icon.name
    icons = settings.MEDIA_ROOT / "community-icons"
    assert [p.name for p in icons.iterdir()] == [old_icon.rsplit("/", 1)[1]]

    with pytest.raises(NotAllowed, match="already exists"):
        actions.update_community(
            community=community,
            name="Tea",
            description="",
            category="food",
            join_policy="open",
            topic_policy="members",
            icon=png_upload(color=(250, 0, 0)),
        )

    assert Community.objects.get(pk=community.pk).icon.name == old_icon
    assert [p.name for p in icons.iterdir()] == [old_icon.rsplit("/", 1)[1]]


# --- Topics -----------------------------------------------------------------------


def test_starting_a_topic_saves_it_with_its_first_message_and_freshens_activity(
    owner,
):
    community = make_community(owner)
    before = Community.objects.get(pk=community.pk).last_activity_at

    topic = start_topic(community, owner, title="  Beans  ", body="Which roast?")

    assert topic.title == "Beans"
    assert list(Message.objects.filter(topic=topic).values_list("body", flat=True)) == [
        "Which roast?"
    ]
    topic.refresh_from_db()
    assert topic.message_count == 1
    assert Community.objects.get(pk=community.pk).last_activity_at > before


def test_the_same_new_topic_form_sent_twice_makes_one_topic(owner):
    # A double click or a browser resubmit sends the form's client id again.
    community = make_community(owner)
    membership = Membership.objects.get(community=community, member=owner)
    form = {"title": "Beans", "body": "Which roast?", "client_id": "form-1"}

    first = actions.start_topic(
        author=owner, community=community, membership=membership, **form
    )
    second = actions.start_topic(
        author=owner, community=community, membership=membership, **form
    )

    assert second == first
    assert Topic.objects.count() == 1
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("title", "body", "error"),
    [("   ", "Hello", "title"), ("Beans", "   ", "Write a message")],
)
def test_a_topic_without_title_or_message_is_refused_and_nothing_saved(
    owner, title, body, error
):
    community = make_community(owner)

    with pytest.raises(NotAllowed, match=error):
        start_topic(community, owner, title=title, body=body)

    assert not Topic.objects.exists()
    assert not Message.objects.exists()


def test_trying_a_name_does_not_reveal_a_secret_community(owner, ben):
    make_community(owner, name="Hidden Garden", join_policy="secret")

    # A stranger may use the name: refusing would confirm the secret one.
    mine = actions.create_community(
        owner=ben,
        name="hidden garden",
        category="other",
        join_policy="open",
        topic_policy="members",
    )

    assert mine.name == "hidden garden"
    with pytest.raises(NotAllowed, match="already exists"):
        actions.create_community(
            owner=owner,
            name="HIDDEN GARDEN",
            category="other",
            join_policy="open",
            topic_policy="members",
        )
