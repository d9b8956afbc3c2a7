"""Mute, ban, moderators and handing a community over: who may, what changes,
what is recorded, what reaches the member's open sockets."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.urls import reverse
from django.utils import timezone

from accounts.actions import make_friends
from chat import access as chat_access
from chat import broadcast
from communities import actions as community_actions
from communities.access import Forbidden, NotAllowed
from communities.models import Community, Membership
from events import actions as event_actions
from moderation import members
from moderation.models import ModerationAction
from presence.models import Notification
from tests.chat.conftest import HTMX, RECEIVE_TIMEOUT, close_code, refused
from tests.conftest import client_for
from tests.events.conftest import make_event
from tests.factories import MessageFactory
from tests.moderation.conftest import audit_kinds, membership

pytestmark = pytest.mark.django_db


def mute(actor, club, target, minutes=60, reason="Shouting"):
    return members.mute_member(actor, club, target, minutes=minutes, reason=reason)


def ban(actor, club, target, reason="Spam links"):
    return members.ban_member(actor, club, target, reason=reason)


def unchanged_state(club, target) -> tuple:
    row = membership(club, target)
    return (row.status, row.role, row.muted_until, row.mute_reason)


# --- Who may act on whom -----------------------------------------------


def test_a_moderator_mutes_a_member_and_it_is_recorded(club, daichi, ben):
    before = timezone.now()

    mute(daichi, club, ben, minutes=60, reason="Shouting")

    row = membership(club, ben)
    assert row.mute_reason == "Shouting"
    assert before + timedelta(minutes=60) <= row.muted_until
    assert row.muted_until <= timezone.now() + timedelta(minutes=60)
    action = ModerationAction.objects.get(community=club)
    assert action.kind == ModerationAction.Kind.MUTE
    assert (action.actor, action.member) == (daichi, ben)
    assert action.reason == "Shouting"
    assert action.until == row.muted_until
    assert not action.public


@pytest.mark.parametrize("act", [mute, ban])
@pytest.mark.parametrize("target", ["aiko", "other_moderator"])
def test_a_moderator_cannot_act_on_the_owner_or_another_moderator(
    club, daichi, chika, aiko, act, target
):
    if target == "other_moderator":
        members.appoint_moderator(aiko, club, chika)
    victim = aiko if target == "aiko" else chika
    before = unchanged_state(club, victim)
    kinds = audit_kinds(club)

    with pytest.raises(Forbidden):
        act(daichi, club, victim)

    assert unchanged_state(club, victim) == before
    assert audit_kinds(club) == kinds


@pytest.mark.parametrize("name", ["mute", "ban"])
def test_a_moderator_is_refused_the_owners_mute_and_ban_pages(club, daichi, aiko, name):
    client = client_for(daichi)
    url = reverse(f"moderation:{name}", args=[club.pk, aiko.pk])

    assert client.get(url).status_code == 403
    response = client.post(url, {"duration": "60", "reason": "no"})

    assert response.status_code == 403
    assert unchanged_state(club, aiko) == (
        Membership.Status.ACTIVE,
        Membership.Role.OWNER,
        None,
        "",
    )
    assert audit_kinds(club) == []


@pytest.mark.parametrize("name", ["mute", "ban", "unmute", "unban"])
def test_a_plain_member_cannot_act_at_all(club, ben, chika, name):
    client = client_for(ben)
    url = reverse(f"moderation:{name}", args=[club.pk, chika.pk])
    before = unchanged_state(club, chika)

    response = client.post(url, {"duration": "60", "reason": "no"})

    assert response.status_code == 403
    assert unchanged_state(club, chika) == before
    assert audit_kinds(club) == []
    with pytest.raises(Forbidden):
        mute(ben, club, chika)


def test_a_plain_member_is_refused_the_mute_dialog(club, ben, chika):
    url = reverse("moderation:mute", args=[club.pk, chika.pk])

    assert client_for(ben).get(url).status_code == 403


def test_the_owner_mutes_and_bans_a_moderator(club, aiko, daichi):
    mute(aiko, club, daichi)
    assert membership(club, daichi).is_muted()

    ban(aiko, club, daichi)

    row = membership(club, daichi)
    assert (row.status, row.role) == (Membership.Status.BANNED, Membership.Role.MEMBER)
    assert audit_kinds(club) == ["mute", "ban"]


def test_staff_act_on_the_owner_too(club, staff, aiko):
    mute(staff, club, aiko)

    assert membership(club, aiko).is_muted()
    assert ModerationAction.objects.get(community=club).actor == staff


def test_a_community_the_viewer_may_not_know_of_is_not_found(secret_club, aiko, ben):
    url = reverse("moderation:mute", args=[secret_club.pk, aiko.pk])

    assert client_for(ben).get(url).status_code == 404


# --- Mute ------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [9, 0, -10, 7 * 24 * 60 + 1])
def test_a_mute_outside_ten_minutes_to_seven_days_is_refused(
    club, daichi, ben, minutes
):
    with pytest.raises(NotAllowed, match="10 minutes to 7 days"):
        mute(daichi, club, ben, minutes=minutes)

    assert membership(club, ben).muted_until is None
    assert audit_kinds(club) == []


@pytest.mark.parametrize("minutes", [10, 7 * 24 * 60])
def test_a_mute_of_ten_minutes_or_seven_days_is_taken(club, daichi, ben, minutes):
    mute(daichi, club, ben, minutes=minutes)

    remaining = membership(club, ben).muted_until - timezone.now()
    assert timedelta(minutes=minutes - 1) < remaining <= timedelta(minutes=minutes)


def test_a_mute_until_lifted_lasts_until_it_is_lifted(club, daichi, ben):
    mute(daichi, club, ben, minutes=None)

    row = membership(club, ben)
    assert row.muted_until == members.UNTIL_LIFTED
    assert row.is_muted(timezone.now() + timedelta(days=3650))
    with pytest.raises(Forbidden):
        chat_access.require_can_post(row)

    members.unmute_member(daichi, club, ben)

    row = membership(club, ben)
    assert (row.muted_until, row.mute_reason) == (None, "")
    chat_access.require_can_post(row)
    assert audit_kinds(club) == ["mute", "unmute"]


def test_a_mute_survives_leaving_and_rejoining(club, daichi, ben):
    mute(daichi, club, ben, minutes=60, reason="Cool off")

    community_actions.leave_community(member=ben, community=club)
    community_actions.join_community(member=ben, community=club)

    row = membership(club, ben)
    assert row.is_active
    assert row.is_muted()
    assert row.mute_reason == "Cool off"


def test_the_mute_form_mutes_and_goes_back_to_the_topic(club, daichi, ben, topic):
    client = client_for(daichi)
    url = reverse("moderation:mute", args=[club.pk, ben.pk])
    page = client.get(url, {"next": topic.get_absolute_url()})
    assert page.status_code == 200
    html = page.content.decode()
    assert ">Duration</label>" in html
    assert ">Reason</label>" in html

    response = client.post(
        url,
        {
            "duration": "1440",
            "reason": "Too many caps",
            "next": topic.get_absolute_url(),
        },
    )

    assert response.status_code == 302
    assert response["Location"] == topic.get_absolute_url()
    row = membership(club, ben)
    assert row.mute_reason == "Too many caps"
    assert row.muted_until > timezone.now() + timedelta(hours=23)


def test_the_mute_form_refuses_a_duration_not_offered(club, daichi, ben):
    client = client_for(daichi)
    url = reverse("moderation:mute", args=[club.pk, ben.pk])

    response = client.post(url, {"duration": "5", "reason": "x"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert membership(club, ben).muted_until is None


def test_a_muted_members_edit_and_like_are_refused(club, daichi, ben, topic):
    own = MessageFactory(topic=topic, author=ben, body="my words")
    other = MessageFactory(topic=topic, author=daichi, body="hello")
    mute(daichi, club, ben)
    client = client_for(ben)

    edit = client.post(
        reverse("chat:message-edit", args=[own.pk]), {"body": "changed"}, **HTMX
    )
    like = client.post(reverse("chat:message-like", args=[other.pk]), **HTMX)

    assert refused(edit)[0] == 403
    assert refused(like)[0] == 403
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.body == "my words"
    assert other.like_count == 0


def test_the_composer_notice_shows_a_mute_in_force(club, daichi, ben):
    from django.template.loader import render_to_string

    mute(daichi, club, ben, minutes=None, reason="Calm down")

    html = render_to_string(
        "moderation/_composer_mute.html",
        {"community": club, "membership": membership(club, ben)},
    )
    assert "You are muted in this community until it is lifted: Calm down" in html
    assert " hidden" not in html

    members.unmute_member(daichi, club, ben)
    html = render_to_string(
        "moderation/_composer_mute.html",
        {"community": club, "membership": membership(club, ben)},
    )
    assert " hidden" in html


def test_the_mute_frame_is_language_neutral_and_escaped(club):
    until = timezone.now()
    frame = members.mute_frame(club.pk, until, '<b>"loud"</b>')

    assert frame == (
        f'<template id="live-mute" data-community="{club.pk}" '
        f'data-until="{until.isoformat()}" '
        'data-reason="&lt;b&gt;&quot;loud&quot;&lt;/b&gt;"></template>'
    )
    assert 'data-until=""' in members.mute_frame(club.pk, members.UNTIL_LIFTED, "")


# --- Ban ----------------------------------------------------------------


def test_a_ban_takes_the_member_out_and_is_public(club, daichi, ben):
    count = Community.objects.get(pk=club.pk).member_count

    ban(daichi, club, ben, reason="Spam links")

    assert membership(club, ben).status == Membership.Status.BANNED
    assert Community.objects.get(pk=club.pk).member_count == count - 1
    action = ModerationAction.objects.get(community=club)
    assert (action.kind, action.actor, action.member) == ("ban", daichi, ben)
    assert action.public


def test_the_communitys_topics_are_not_found_for_a_banned_member(
    club, daichi, ben, topic
):
    client = client_for(ben)
    assert client.get(topic.get_absolute_url()).status_code == 200

    ban(daichi, club, ben)

    # (The open community's own page still answers, with "You cannot take
    # part in this community.": tests/communities/test_views.py.)
    assert client.get(topic.get_absolute_url()).status_code == 404


def test_a_banned_member_cannot_rejoin(club, daichi, ben):
    ban(daichi, club, ben)

    with pytest.raises(NotAllowed):
        community_actions.join_community(member=ben, community=club)

    assert membership(club, ben).status == Membership.Status.BANNED


def test_a_banned_member_cannot_be_invited(club, daichi, ben, chika):
    make_friends(chika, ben)
    ban(daichi, club, ben)

    with pytest.raises(NotAllowed):
        community_actions.invite_friend(inviter=chika, community=club, friend_id=ben.pk)

    assert membership(club, ben).status == Membership.Status.BANNED


def test_an_unbanned_member_may_rejoin_and_keeps_a_mute(club, daichi, ben):
    mute(daichi, club, ben, minutes=None)
    ban(daichi, club, ben)

    members.unban_member(daichi, club, ben)
    assert membership(club, ben).status == Membership.Status.LEFT
    community_actions.join_community(member=ben, community=club)

    row = membership(club, ben)
    assert row.is_active
    assert row.is_muted()
    assert audit_kinds(club) == ["mute", "ban", "unban"]


def test_the_ban_page_bans_and_goes_back(club, daichi, ben, topic):
    client = client_for(daichi)
    url = reverse("moderation:ban", args=[club.pk, ben.pk])
    assert client.get(url).status_code == 200

    response = client.post(
        url, {"reason": "Spam", "rule": "spam", "next": topic.get_absolute_url()}
    )

    assert response["Location"] == topic.get_absolute_url()
    assert membership(club, ben).status == Membership.Status.BANNED
    assert ModerationAction.objects.get(community=club).rule == "spam"


def test_banning_twice_is_refused_and_records_nothing_more(club, daichi, ben):
    ban(daichi, club, ben)

    with pytest.raises(NotAllowed):
        ban(daichi, club, ben)

    assert audit_kinds(club) == ["ban"]


def test_a_ban_takes_back_the_members_answers_to_its_events(club, daichi, ben):
    event = make_event(club)
    event_actions.answer(ben, event, "going")

    ban(daichi, club, ben)

    assert event_actions.answers_for(event, ben) is None


def test_the_unmute_and_unban_buttons_lift_them(club, daichi, ben, chika):
    mute(daichi, club, ben)
    ban(daichi, club, chika)
    client = client_for(daichi)

    unmuted = client.post(reverse("moderation:unmute", args=[club.pk, ben.pk]))
    unbanned = client.post(reverse("moderation:unban", args=[club.pk, chika.pk]))

    assert unmuted.status_code == unbanned.status_code == 302
    assert not membership(club, ben).is_muted()
    assert membership(club, chika).status == Membership.Status.LEFT
    assert audit_kinds(club) == ["mute", "ban", "unmute", "unban"]


def test_the_mute_and_ban_pages_offer_to_lift_what_is_in_force(club, daichi, ben):
    client = client_for(daichi)
    mute_page = reverse("moderation:mute", args=[club.pk, ben.pk])
    ban_page = reverse("moderation:ban", args=[club.pk, ben.pk])
    assert "Lift the mute" not in client.get(mute_page).content.decode()
    assert "Lift the ban" not in client.get(ban_page).content.decode()

    mute(daichi, club, ben, minutes=None)
    ban(daichi, club, ben)

    assert "Lift the mute" in client.get(mute_page).content.decode()
    assert "Lift the ban" in client.get(ban_page).content.decode()


def test_lifting_what_is_not_there_says_so_and_records_nothing(club, daichi, ben):
    client = client_for(daichi)

    response = client.post(
        reverse("moderation:unmute", args=[club.pk, ben.pk]), follow=True
    )

    assert "This member is not muted." in response.content.decode()
    assert audit_kinds(club) == []


# --- Roles and handover ------------------------------------------------------


def test_the_owner_appoints_and_removes_a_moderator(club, aiko, ben):
    members.appoint_moderator(aiko, club, ben)
    assert membership(club, ben).role == Membership.Role.MODERATOR

    members.remove_moderator(aiko, club, ben)

    assert membership(club, ben).role == Membership.Role.MEMBER
    assert audit_kinds(club) == ["appoint", "dismiss_moderator"]


def test_a_moderator_cannot_appoint_or_see_the_moderators_page(club, daichi, ben):
    with pytest.raises(Forbidden):
        members.appoint_moderator(daichi, club, ben)

    assert (
        client_for(daichi)
        .get(reverse("moderation:moderators", args=[club.pk]))
        .status_code
        == 403
    )
    assert membership(club, ben).role == Membership.Role.MEMBER
    assert audit_kinds(club) == []


def test_the_moderators_page_appoints(club, aiko, chika):
    client = client_for(aiko)
    url = reverse("moderation:moderators", args=[club.pk])
    assert "daichi" in client.get(url).content.decode()

    client.post(url, {"action": "appoint", "member": chika.pk})

    assert membership(club, chika).role == Membership.Role.MODERATOR


def test_the_moderators_page_removes_a_moderator_and_offers_the_community(
    club, aiko, daichi, ben
):
    standing(club, ben, 31)
    client = client_for(aiko)
    url = reverse("moderation:moderators", args=[club.pk])
    assert "ben" in client.get(url).content.decode()

    client.post(url, {"action": "remove", "member": daichi.pk})
    client.post(url, {"action": "offer", "member": ben.pk})

    assert membership(club, daichi).role == Membership.Role.MEMBER
    assert Community.objects.get(pk=club.pk).offered_to == ben
    assert audit_kinds(club) == ["dismiss_moderator", "offer_ownership"]


@pytest.mark.parametrize(
    "data", [{}, {"action": "zap", "member": "1"}, {"action": "appoint", "member": "x"}]
)
def test_the_moderators_page_refuses_what_it_does_not_know(club, aiko, data):
    client = client_for(aiko)
    url = reverse("moderation:moderators", args=[club.pk])

    response = client.post(url, data, follow=True)

    assert "Choose a member and what to do." in response.content.decode()
    assert audit_kinds(club) == []


def standing(club, member, days):
    Membership.objects.filter(community=club, member=member).update(
        created_at=timezone.now() - timedelta(days=days)
    )


def test_the_community_is_offered_only_to_a_member_of_thirty_days(club, aiko, ben):
    standing(club, ben, 29)

    with pytest.raises(NotAllowed, match="30 days"):
        members.offer_ownership(aiko, club, ben)

    assert Community.objects.get(pk=club.pk).offered_to is None
    standing(club, ben, 31)
    members.offer_ownership(aiko, club, ben)
    assert Community.objects.get(pk=club.pk).offered_to == ben


def test_accepting_the_offer_swaps_the_roles(club, aiko, ben):
    standing(club, ben, 31)
    members.offer_ownership(aiko, club, ben)

    response = client_for(ben).post(
        reverse("moderation:handover", args=[club.pk]), {"decision": "accept"}
    )

    assert response.status_code == 302
    club.refresh_from_db()
    assert (club.owner, club.offered_to) == (ben, None)
    assert membership(club, ben).role == Membership.Role.OWNER
    assert membership(club, aiko).role == Membership.Role.MODERATOR
    assert audit_kinds(club) == ["offer_ownership", "transfer"]


def test_declining_the_offer_keeps_the_owner(club, aiko, ben):
    standing(club, ben, 31)
    members.offer_ownership(aiko, club, ben)

    members.decline_ownership(ben, club)

    club.refresh_from_db()
    assert (club.owner, club.offered_to) == (aiko, None)
    assert membership(club, aiko).role == Membership.Role.OWNER


def test_declining_on_the_handover_page(club, aiko, ben):
    standing(club, ben, 31)
    members.offer_ownership(aiko, club, ben)
    url = reverse("moderation:handover", args=[club.pk])
    assert "aiko offers you Shimokita Coffee Club" in (
        client_for(ben).get(url).content.decode()
    )

    client_for(ben).post(url, {"decision": "decline"})

    club.refresh_from_db()
    assert (club.owner, club.offered_to) == (aiko, None)
    assert client_for(ben).get(url).status_code == 404


def test_only_the_offered_member_may_accept(club, aiko, ben, chika):
    standing(club, ben, 31)
    members.offer_ownership(aiko, club, ben)

    with pytest.raises(Forbidden):
        members.accept_ownership(chika, club)
    assert (
        client_for(chika)
        .get(reverse("moderation:handover", args=[club.pk]))
        .status_code
        == 404
    )

    assert Community.objects.get(pk=club.pk).owner == aiko


def test_an_offer_is_refused_after_leaving_and_rejoining(club, aiko, ben):
    standing(club, ben, 31)
    members.offer_ownership(aiko, club, ben)
    community_actions.leave_community(member=ben, community=club)
    community_actions.join_community(member=ben, community=club)

    with pytest.raises(NotAllowed, match="30 days"):
        members.accept_ownership(ben, club)

    assert Community.objects.get(pk=club.pk).owner == aiko


# --- Notifications -------------------------------------------------------------


def notifications_page(member) -> str:
    return client_for(member).get(reverse("presence:notifications")).content.decode()


def test_the_muted_member_is_told_why_without_the_moderators_name(club, daichi, ben):
    mute(daichi, club, ben, minutes=None, reason="Shouting")

    html = notifications_page(ben)
    assert (
        "You are muted in Shimokita Coffee Club until the mute is lifted: Shouting"
        in html
    )
    assert "daichi" not in html

    members.unmute_member(daichi, club, ben)

    assert "You are muted" not in notifications_page(ben)


def test_the_offered_member_is_told_and_led_to_the_handover_page(club, aiko, ben):
    standing(club, ben, 31)
    members.offer_ownership(aiko, club, ben)

    html = notifications_page(ben)
    assert "aiko offers you Shimokita Coffee Club: become its owner?" in html
    notification = Notification.objects.get(recipient=ben, kind="ownership_offered")
    opened = client_for(ben).post(
        reverse("presence:notification-open", args=[notification.pk])
    )
    assert opened["Location"] == reverse("moderation:handover", args=[club.pk])

    members.decline_ownership(ben, club)

    assert "offers you" not in notifications_page(ben)


# --- Live --------------------------------------------------------------------

live = pytest.mark.django_db(transaction=True)


async def template_frame(socket) -> str:
    """The next bare notice the socket gets, past the unread badge that a
    notification pushes to the same socket."""
    while True:
        frame = await socket.receive_from(timeout=RECEIVE_TIMEOUT)
        if frame.startswith("<template"):
            return frame


@live
async def test_the_mute_notice_reaches_the_members_open_socket(
    club, daichi, ben, topic, open_socket
):
    socket = await open_socket(ben, topic)

    await sync_to_async(mute)(daichi, club, ben, minutes=None, reason="Calm <down>")

    assert await template_frame(socket) == (
        f'<template id="live-mute" data-community="{club.pk}" data-until="" '
        'data-reason="Calm &lt;down&gt;"></template>'
    )

    await sync_to_async(members.unmute_member)(daichi, club, ben)

    assert await template_frame(socket) == (
        f'<template id="live-unmute" data-community="{club.pk}"></template>'
    )


@live
async def test_a_ban_closes_the_members_open_socket(
    club, daichi, ben, topic, open_socket
):
    socket = await open_socket(ben, topic)

    await sync_to_async(ban)(daichi, club, ben)

    assert await close_code(socket) == broadcast.CLOSE_RECHECK


@live
async def test_a_banned_member_cannot_subscribe_to_a_topic_by_its_id(
    club, daichi, ben, topic, open_socket
):
    await database_sync_to_async(ban)(daichi, club, ben)

    socket = await open_socket(ben, topic)

    assert await close_code(socket) == broadcast.CLOSE_FORBIDDEN
