"""Community pages through the Django test client and the real database: the
directory, "my communities", joining, requests, invitations, roles, creating
and editing, icons and topics."""

import html
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from accounts.actions import make_friends
from accounts.models import Block
from chat.models import Message
from communities import actions
from communities.models import Community, Membership, Topic
from tests.communities import (
    fake_image_upload,
    make_community,
    png_upload,
    put,
    start_topic,
)
from tests.conftest import client_for

LISTED = re.compile(r'<span class="community-name">([^<]*)</span>')


FLASH = re.compile(r'<li class="message message-[a-z ]+">(.*?)</li>', re.S)


def flashes(page: str) -> list[str]:
    """The flash messages a page shows, each exactly as the member reads it
    (a substring check would pass a message with anything around it)."""
    return [html.unescape(message) for message in FLASH.findall(page)]


def listed(response) -> list[str]:
    """Community names in the directory's result list, in page order."""
    assert response.status_code == 200
    return LISTED.findall(response.content.decode())


def text(response) -> str:
    return response.content.decode()


def results(response) -> str:
    """The directory's #results block (the search box echoes the query)."""
    return text(response).split('id="results"', 1)[1]


def count_of(community) -> int:
    return Community.objects.get(pk=community.pk).member_count


def status_of(community, member) -> str | None:
    membership = Membership.objects.filter(community=community, member=member).first()
    return membership.status if membership else None


# --- The directory ----------------------------------------------------------------


def test_directory_lists_every_non_secret_community_but_never_a_secret_one(owner, ben):
    make_community(owner, name="Open Coffee", join_policy="open")
    make_community(owner, name="Careful Coffee", join_policy="approval")
    make_community(owner, name="Hidden Coffee", join_policy="secret")

    response = client_for(ben).get("/communities/")
    names = listed(response)

    assert sorted(names) == ["Careful Coffee", "Open Coffee"]
    assert "Hidden Coffee" not in text(response)


@pytest.mark.parametrize(
    "query",
    ["?q=Hidden", "?q=Hidden+Coffee", "?q=whisper", "?category=food", "?sort=members"],
)
def test_a_secret_community_is_never_found_by_a_non_member(owner, ben, query):
    make_community(
        owner,
        name="Hidden Coffee",
        join_policy="secret",
        category="food",
        description="We whisper about beans.",
    )

    response = client_for(ben).get("/communities/" + query)

    assert listed(response) == []
    assert "Hidden Coffee" not in results(response)
    assert "whisper" not in results(response)


@pytest.mark.parametrize("status", ["pending", "banned"])
def test_a_secret_community_stays_hidden_from_requesters_and_banned(owner, ben, status):
    community = make_community(owner, name="Hidden Coffee", join_policy="secret")
    put(community, ben, status=status)

    response = client_for(ben).get("/communities/?q=Hidden")

    assert listed(response) == []


@pytest.mark.parametrize("status", ["active", "invited"])
def test_members_and_invitees_see_and_find_their_secret_community(owner, ben, status):
    community = make_community(owner, name="Hidden Coffee", join_policy="secret")
    put(community, ben, status=status)
    client = client_for(ben)

    assert listed(client.get("/communities/")) == ["Hidden Coffee"]
    assert listed(client.get("/communities/?q=hidden")) == ["Hidden Coffee"]
    assert client.get(f"/communities/{community.pk}/").status_code == 200


def test_directory_filters_by_category(owner, ben):
    make_community(owner, name="Beans", category="food")
    make_community(owner, name="Vinyl", category="music")
    make_community(owner, name="Ramen", category="food")

    response = client_for(ben).get("/communities/?category=food")

    assert sorted(listed(response)) == ["Beans", "Ramen"]


def test_an_unknown_category_filters_nothing_out(owner, ben):
    make_community(owner, name="Beans", category="food")

    response = client_for(ben).get("/communities/?category=<script>")

    assert listed(response) == ["Beans"]
    assert "<script>" not in text(response)


def test_search_finds_an_english_word_in_name_or_description(owner, ben):
    make_community(owner, name="Shimokita Coffee Club", description="Pour-over fans.")
    make_community(owner, name="Night Owls", description="We drink coffee at 3 am.")
    make_community(owner, name="Tea Room", description="Sencha and matcha.")

    response = client_for(ben).get("/communities/?q=coffee")

    assert sorted(listed(response)) == ["Night Owls", "Shimokita Coffee Club"]


def test_search_finds_a_japanese_substring(owner, ben):
    make_community(
        owner, name="下北沢コーヒー部", description="毎週土曜日に集まります。"
    )
    make_community(owner, name="紅茶の会", description="ダージリンが好き。")

    client = client_for(ben)

    assert listed(client.get("/communities/?q=コーヒー")) == ["下北沢コーヒー部"]
    assert listed(client.get("/communities/?q=土曜日")) == ["下北沢コーヒー部"]
    assert listed(client.get("/communities/?q=ダージリン")) == ["紅茶の会"]


def test_search_matches_words_apart_on_postgresql_and_substrings_on_sqlite(owner, ben):
    make_community(owner, name="Roasters", description="Beans, grinders and coffee.")

    response = client_for(ben).get("/communities/?q=coffee+beans")

    if connection.vendor == "postgresql":
        # Full-text search: both words, in any order, anywhere.
        assert listed(response) == ["Roasters"]
    else:
        # The SQLite fallback is a plain substring match.
        assert listed(response) == []


def test_a_search_that_matches_nothing_says_so(owner, ben):
    make_community(owner, name="Beans")

    response = client_for(ben).get("/communities/?q=zzz")

    assert listed(response) == []
    assert "No community matches" in text(response)


def test_directory_sorts_by_members(owner, ben, chika, member_factory):
    small = make_community(owner, name="Small")
    big = make_community(owner, name="Big")
    middle = make_community(owner, name="Middle")
    for someone in (ben, chika, member_factory()):
        actions.join_community(member=someone, community=big)
    actions.join_community(member=ben, community=middle)
    assert (count_of(small), count_of(middle), count_of(big)) == (1, 2, 4)

    response = client_for(ben).get("/communities/?sort=members")

    assert listed(response) == ["Big", "Middle", "Small"]


def test_directory_sorts_by_latest_activity_by_default(owner, ben):
    oldest = make_community(owner, name="Oldest")
    make_community(owner, name="Middle")
    make_community(owner, name="Newest")
    client = client_for(ben)
    assert listed(client.get("/communities/")) == ["Newest", "Middle", "Oldest"]

    start_topic(oldest, owner, title="Back to life")

    assert listed(client.get("/communities/")) == ["Oldest", "Newest", "Middle"]
    assert listed(client.get("/communities/?sort=activity")) == [
        "Oldest",
        "Newest",
        "Middle",
    ]


def test_directory_shows_twenty_communities_a_page(owner, ben):
    for n in range(45):
        make_community(owner, name=f"Club {n:02}")
    client = client_for(ben)

    first = client.get("/communities/")
    third = client.get("/communities/?page=3")

    assert listed(first) == [f"Club {n:02}" for n in range(44, 24, -1)]
    assert "Page 1 of 3" in text(first)
    assert 'rel="next"' in text(first)
    assert listed(third) == [f"Club {n:02}" for n in range(4, -1, -1)]
    assert 'rel="next"' not in text(third)


def test_directory_pages_keep_the_search_and_filters(owner, ben):
    for n in range(25):
        make_community(owner, name=f"Coffee {n:02}", category="food")

    response = client_for(ben).get("/communities/?q=coffee&category=food&sort=members")

    assert 'href="?q=coffee&category=food&sort=members&page=2"' in text(response)


def test_directory_query_count_stays_flat_as_communities_grow(owner, ben):
    client = client_for(ben)
    for _ in range(3):
        make_community(owner)
    with CaptureQueriesContext(connection) as few:
        assert len(listed(client.get("/communities/"))) == 3

    for _ in range(37):
        make_community(owner)
    with CaptureQueriesContext(connection) as many:
        assert len(listed(client.get("/communities/"))) == 20

    # Session, member, count and one page of rows; the navigation's counts
    # (friend requests, notifications, footprints, reports).
    assert len(few) == len(many) == 8, [q["sql"] for q in many.captured_queries]


def test_directory_htmx_request_gets_the_results_partial_only(owner, ben):
    make_community(owner, name="Beans")

    response = client_for(ben).get(
        "/communities/?q=bea", headers={"HX-Request": "true"}
    )

    body = text(response)
    assert response.status_code == 200
    # What goes inside the page's #results, which stays: an answer holding its
    # own <div id="results"> nested a second one (a duplicate id, and a live
    # region inside a live region).
    assert 'id="results"' not in body
    assert body.lstrip().startswith('<ul class="community-list">')
    assert "<html" not in body
    assert 'role="search"' not in body
    assert listed(response) == ["Beans"]


def test_directory_without_htmx_gets_the_whole_page(owner, ben):
    make_community(owner, name="Beans")

    response = client_for(ben).get("/communities/?q=bea")

    body = text(response)
    assert body.lstrip().lower().startswith("<!doctype html>")
    assert 'role="search"' in body
    assert 'id="results"' in body
    assert listed(response) == ["Beans"]


def test_a_boosted_htmx_request_gets_the_whole_page(owner, ben):
    make_community(owner, name="Beans")

    response = client_for(ben).get(
        "/communities/", headers={"HX-Request": "true", "HX-Boosted": "true"}
    )

    assert "<html" in text(response)


# --- My communities ---------------------------------------------------------------


def test_my_communities_lists_only_where_i_am_an_active_member(owner, ben):
    mine = make_community(owner, name="Mine")
    actions.join_community(member=ben, community=mine)
    asked = make_community(owner, name="Asked", join_policy="approval")
    actions.join_community(member=ben, community=asked)
    banned = make_community(owner, name="Banned From")
    put(banned, ben, status="banned")
    make_community(owner, name="Not Mine")
    left = make_community(owner, name="Left")
    actions.join_community(member=ben, community=left)
    actions.leave_community(member=ben, community=left)

    body = text(client_for(ben).get("/communities/mine/"))

    assert "Mine" in body
    for name in ("Asked", "Banned From", "Not Mine", "Left"):
        assert name not in body


def test_my_communities_shows_pending_invitations_with_accept_and_decline(owner, ben):
    secret = make_community(owner, name="Hidden Coffee", join_policy="secret")
    make_friends(owner, ben)
    actions.invite_friend(inviter=owner, community=secret, friend_id=ben.pk)

    body = text(client_for(ben).get("/communities/mine/"))

    invitations = body.split('id="invited-heading"', 1)[1].split("</section>", 1)[0]
    assert "Hidden Coffee" in invitations
    assert f'action="/communities/{secret.pk}/join/"' in invitations
    assert f'action="/communities/{secret.pk}/leave/"' in invitations
    assert "You have not joined any community yet." in body


def test_my_communities_has_no_invitations_section_without_invitations(owner, ben):
    actions.join_community(member=ben, community=make_community(owner, name="Beans"))

    body = text(client_for(ben).get("/communities/mine/"))

    assert "invited-heading" not in body
    assert "Beans" in body


# --- Joining and leaving ----------------------------------------------------------


def test_joining_an_open_community_through_the_page(owner, ben):
    community = make_community(owner, name="Beans", join_policy="open")
    client = client_for(ben)
    assert "Join this community" in text(client.get(f"/communities/{community.pk}/"))

    response = client.post(f"/communities/{community.pk}/join/", follow=True)

    assert response.redirect_chain == [(f"/communities/{community.pk}/", 302)]
    assert flashes(text(response)) == ["Welcome to Beans!"]
    assert status_of(community, ben) == "active"
    assert count_of(community) == 2
    assert "1 member<" not in text(response)
    assert "2 members" in text(response)


def test_join_is_post_only(owner, ben):
    community = make_community(owner)

    response = client_for(ben).get(f"/communities/{community.pk}/join/")

    assert response.status_code == 405
    assert status_of(community, ben) is None


def test_asking_to_join_an_approval_community(owner, ben):
    community = make_community(owner, name="Careful", join_policy="approval")
    client = client_for(ben)
    assert "Ask to join" in text(client.get(f"/communities/{community.pk}/"))

    response = client.post(f"/communities/{community.pk}/join/", follow=True)

    assert flashes(text(response)) == [
        "Your request to join was sent to the moderators."
    ]
    assert "The moderators have not answered yet." in text(response)
    assert status_of(community, ben) == "pending"
    assert count_of(community) == 1


@pytest.mark.parametrize("decider_role", ["owner", "moderator"])
def test_owner_or_moderator_accepts_a_request(owner, ben, chika, decider_role):
    community = make_community(owner, name="Careful", join_policy="approval")
    decider = owner
    if decider_role == "moderator":
        put(community, chika, role="moderator")
        decider = chika
    actions.join_community(member=ben, community=community)
    before = count_of(community)
    client = client_for(decider)
    members_page = text(client.get(f"/communities/{community.pk}/members/"))
    assert 'id="requests"' in members_page
    assert f"/communities/{community.pk}/requests/{ben.pk}/" in members_page

    response = client.post(
        f"/communities/{community.pk}/requests/{ben.pk}/",
        {"decision": "accept"},
        follow=True,
    )

    assert response.redirect_chain == [(f"/communities/{community.pk}/members/", 302)]
    assert flashes(text(response)) == ["Request accepted."]
    assert status_of(community, ben) == "active"
    assert count_of(community) == before + 1


def test_a_declined_request_vanishes_silently_and_may_be_made_again(
    owner, ben, django_capture_on_commit_callbacks
):
    community = make_community(owner, name="Careful", join_policy="approval")
    requester = client_for(ben)
    requester.post(f"/communities/{community.pk}/join/")
    requester.get(f"/communities/{community.pk}/")  # the flash is consumed

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(owner).post(
            f"/communities/{community.pk}/requests/{ben.pk}/",
            {"decision": "decline"},
            follow=True,
        )

    assert flashes(text(response)) == ["Request declined."]
    assert callbacks == []  # nothing is sent to anyone
    assert status_of(community, ben) == "left"
    assert count_of(community) == 1
    # The requester is told nothing: their page simply offers to ask again.
    page = text(requester.get(f"/communities/{community.pk}/"))
    assert "Ask to join" in page
    assert 'class="messages"' not in page
    assert "declined" not in page.lower()

    requester.post(f"/communities/{community.pk}/join/")
    assert status_of(community, ben) == "pending"


@pytest.mark.parametrize("decision", ["accept", "decline"])
def test_a_plain_member_cannot_decide_requests(owner, ben, chika, decision):
    community = make_community(owner, join_policy="approval")
    put(community, chika)
    actions.join_community(member=ben, community=community)
    client = client_for(chika)
    assert 'id="requests"' not in text(
        client.get(f"/communities/{community.pk}/members/")
    )

    response = client.post(
        f"/communities/{community.pk}/requests/{ben.pk}/",
        {"decision": decision},
        follow=True,
    )

    assert flashes(text(response)) == ["Only the owner and moderators can do that."]
    assert status_of(community, ben) == "pending"
    assert count_of(community) == 2


def test_a_requester_cannot_accept_their_own_request(owner, ben):
    community = make_community(owner, join_policy="approval")
    client = client_for(ben)
    client.post(f"/communities/{community.pk}/join/")
    client.get(f"/communities/{community.pk}/")  # the flash is consumed

    client.post(
        f"/communities/{community.pk}/requests/{ben.pk}/", {"decision": "accept"}
    )

    assert status_of(community, ben) == "pending"
    assert count_of(community) == 1
    page = text(client.get(f"/communities/{community.pk}/"))
    assert flashes(page) == ["Only the owner and moderators can do that."]


def test_a_secret_community_cannot_be_joined_by_guessing_its_id(owner, ben):
    community = make_community(owner, join_policy="secret")

    response = client_for(ben).post(f"/communities/{community.pk}/join/")

    assert response.status_code == 404
    assert status_of(community, ben) is None
    assert count_of(community) == 1


def test_a_member_invites_a_friend_who_accepts(owner, ben, chika):
    community = make_community(owner, name="Hidden Coffee", join_policy="secret")
    put(community, ben)
    make_friends(ben, chika)
    inviter = client_for(ben)
    members_page = text(inviter.get(f"/communities/{community.pk}/members/"))
    assert f'<option value="{chika.pk}">chika</option>' in members_page

    response = inviter.post(
        f"/communities/{community.pk}/invite/", {"friend": chika.pk}, follow=True
    )

    assert flashes(text(response)) == ["chika was invited."]
    assert status_of(community, chika) == "invited"
    friend = client_for(chika)
    page = text(friend.get(f"/communities/{community.pk}/"))
    assert "You were invited to this community." in page
    assert "Topics are for members" in page

    response = friend.post(f"/communities/{community.pk}/join/", follow=True)

    assert flashes(text(response)) == ["Welcome to Hidden Coffee!"]
    assert status_of(community, chika) == "active"
    assert count_of(community) == 3


def test_inviting_a_non_friend_is_refused(owner, ben, chika):
    community = make_community(owner, join_policy="secret")
    put(community, ben)

    response = client_for(ben).post(
        f"/communities/{community.pk}/invite/", {"friend": chika.pk}, follow=True
    )

    assert flashes(text(response)) == ["You can only invite your friends."]
    assert status_of(community, chika) is None


def test_inviting_a_blocked_friend_is_refused(owner, ben, chika):
    community = make_community(owner, join_policy="secret")
    put(community, ben)
    make_friends(ben, chika)
    Block.objects.create(blocker=chika, blocked=ben)

    response = client_for(ben).post(
        f"/communities/{community.pk}/invite/", {"friend": chika.pk}, follow=True
    )

    assert flashes(text(response)) == ["You can only invite your friends."]
    assert status_of(community, chika) is None


@pytest.mark.parametrize("status", ["pending", "invited", "banned"])
def test_only_active_members_can_invite(owner, ben, chika, status):
    community = make_community(owner, join_policy="open")
    put(community, ben, status=status)
    make_friends(ben, chika)

    client = client_for(ben)

    client.post(f"/communities/{community.pk}/invite/", {"friend": chika.pk})

    assert status_of(community, chika) is None
    page = text(client.get(f"/communities/{community.pk}/"))
    assert flashes(page) == ["Only members of this community can do that."]


def test_in_an_approval_community_only_moderators_invite(owner, ben, chika, daichi):
    # An invitation lets the friend in without a request, so in an approval
    # community it is the moderators' call, not any member's.
    community = make_community(owner, join_policy="approval")
    put(community, ben)
    make_friends(ben, chika)
    make_friends(owner, daichi)
    members_page = text(client_for(ben).get(f"/communities/{community.pk}/members/"))
    assert "Invite a friend" not in members_page

    client_for(ben).post(f"/communities/{community.pk}/invite/", {"friend": chika.pk})
    assert status_of(community, chika) is None

    client_for(owner).post(
        f"/communities/{community.pk}/invite/", {"friend": daichi.pk}
    )
    assert status_of(community, daichi) == "invited"


def test_an_invitation_without_a_friend_chosen_is_refused(owner):
    community = make_community(owner)

    response = client_for(owner).post(
        f"/communities/{community.pk}/invite/", {"friend": "x"}, follow=True
    )

    assert flashes(text(response)) == ["Choose a friend to invite."]
    assert Membership.objects.filter(community=community).count() == 1


def test_leaving_a_community_counts_one_less(owner, ben):
    community = make_community(owner, name="Beans")
    actions.join_community(member=ben, community=community)

    response = client_for(ben).post(f"/communities/{community.pk}/leave/", follow=True)

    assert flashes(text(response)) == ["You left Beans."]
    assert "Join this community" in text(response)
    assert status_of(community, ben) == "left"
    assert count_of(community) == 1


def test_leaving_a_secret_community_lands_on_my_communities(owner, ben):
    community = make_community(owner, name="Hidden", join_policy="secret")
    put(community, ben)

    response = client_for(ben).post(f"/communities/{community.pk}/leave/")

    assert response.status_code == 302
    assert response["Location"] == "/communities/mine/"
    assert status_of(community, ben) == "left"


def test_the_owner_cannot_leave(owner):
    community = make_community(owner, name="Beans")
    client = client_for(owner)
    assert "/leave/" not in text(client.get(f"/communities/{community.pk}/"))

    response = client.post(f"/communities/{community.pk}/leave/", follow=True)

    assert flashes(text(response)) == ["The owner cannot leave their community."]
    assert status_of(community, owner) == "active"
    assert count_of(community) == 1


def test_a_banned_member_cannot_join_again_nor_see_topics(owner, ben):
    community = make_community(owner, name="Beans")
    topic = start_topic(community, owner, title="Roasting tips")
    put(community, ben, status="banned")
    client = client_for(ben)

    page = text(client.get(f"/communities/{community.pk}/"))
    assert "You cannot take part in this community." in page
    assert "Join this community" not in page
    assert "Roasting tips" not in page

    response = client.post(f"/communities/{community.pk}/join/", follow=True)

    assert flashes(text(response)) == ["You cannot join this community."]
    assert status_of(community, ben) == "banned"
    assert count_of(community) == 1
    assert client.get(f"/topics/{topic.pk}/").status_code == 404


# --- Roles ------------------------------------------------------------------------


def test_the_owner_makes_a_member_moderator_and_back(owner, ben):
    community = make_community(owner)
    put(community, ben)
    client = client_for(owner)
    url = f"/communities/{community.pk}/members/{ben.pk}/role/"
    assert "Make moderator" in text(client.get(f"/communities/{community.pk}/members/"))

    response = client.post(url, {"role": "moderator"}, follow=True)

    assert flashes(text(response)) == ["The role was changed."]
    assert "Remove moderator" in text(response)
    assert Membership.objects.get(community=community, member=ben).is_moderator

    client.post(url, {"role": "member"})

    assert Membership.objects.get(community=community, member=ben).role == "member"


@pytest.mark.parametrize("actor_role", ["moderator", "member"])
@pytest.mark.parametrize("new_role", ["moderator", "member"])
def test_only_the_owner_changes_roles(owner, ben, chika, actor_role, new_role):
    community = make_community(owner)
    put(community, ben, role=actor_role)
    target = put(
        community, chika, role="moderator" if new_role == "member" else "member"
    )
    client = client_for(ben)
    assert "Make moderator" not in text(
        client.get(f"/communities/{community.pk}/members/")
    )

    response = client.post(
        f"/communities/{community.pk}/members/{chika.pk}/role/",
        {"role": new_role},
        follow=True,
    )

    assert flashes(text(response)) == ["Only the owner can do that."]
    assert Membership.objects.get(pk=target.pk).role == target.role


def test_a_moderator_cannot_make_themselves_owner(owner, ben):
    community = make_community(owner)
    put(community, ben, role="moderator")

    client_for(ben).post(
        f"/communities/{community.pk}/members/{ben.pk}/role/", {"role": "owner"}
    )
    client_for(owner).post(
        f"/communities/{community.pk}/members/{ben.pk}/role/", {"role": "owner"}
    )

    assert Membership.objects.get(community=community, member=ben).role == "moderator"
    assert Community.objects.get(pk=community.pk).owner == owner


# --- Creating and editing ---------------------------------------------------------


def create_data(**overrides):
    return {
        "name": "Shimokita Coffee Club",
        "description": "Pour-over fans.",
        "category": "food",
        "join_policy": "approval",
        "topic_policy": "moderators",
    } | overrides


def test_creating_a_community_makes_me_its_owner(ben):
    response = client_for(ben).post("/communities/new/", create_data(), follow=True)

    community = Community.objects.get()
    assert response.redirect_chain == [(f"/communities/{community.pk}/", 302)]
    assert (community.name, community.category) == ("Shimokita Coffee Club", "food")
    assert (community.join_policy, community.topic_policy) == ("approval", "moderators")
    assert community.owner == ben
    assert community.member_count == 1
    membership = Membership.objects.get(community=community)
    assert (membership.member, membership.role, membership.status) == (
        ben,
        "owner",
        "active",
    )
    assert "Edit community" in text(response)


@pytest.mark.parametrize("name", ["", "   "])
def test_a_community_needs_a_name(ben, name):
    response = client_for(ben).post("/communities/new/", create_data(name=name))

    assert response.status_code == 200
    assert "This field is required." in text(response)
    assert not Community.objects.exists()


@pytest.mark.parametrize("taken", ["shimokita coffee club", "SHIMOKITA COFFEE CLUB"])
def test_a_duplicate_name_in_any_case_is_refused_clearly(owner, ben, taken):
    make_community(owner, name="Shimokita Coffee Club")

    response = client_for(ben).post("/communities/new/", create_data(name=taken))

    assert response.status_code == 200
    assert "A community with this name already exists." in text(response)
    assert Community.objects.count() == 1
    assert not Membership.objects.filter(member=ben).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("category", "nonsense"), ("join_policy", "everyone"), ("topic_policy", "all")],
)
def test_an_unknown_choice_is_refused(ben, field, value):
    response = client_for(ben).post("/communities/new/", create_data(**{field: value}))

    assert response.status_code == 200
    assert "Select a valid choice." in text(response)
    assert not Community.objects.exists()


def test_the_icon_is_re_encoded_and_served_only_to_those_who_may_see(owner, ben, chika):
    response = client_for(owner).post(
        "/communities/new/",
        create_data(join_policy="secret", icon=png_upload(size=(300, 200))),
    )
    community = Community.objects.get()
    assert response["Location"] == f"/communities/{community.pk}/"
    put(community, ben)
    url = f"/communities/{community.pk}/icon/"

    served = client_for(ben).get(url)

    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert "private" in served["Cache-Control"]
    data = b"".join(served.streaming_content)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert image.size == (256, 256)
    assert not image.getexif()
    assert b"Secret Camera" not in data
    assert f'src="{url}"' in text(client_for(ben).get(f"/communities/{community.pk}/"))
    assert client_for(chika).get(url).status_code == 404
    # The stored file itself is not reachable by any other address.
    assert client_for(ben).get(f"/media/{community.icon.name}").status_code == 404


def test_a_fake_image_is_refused_clearly_and_nothing_created(ben, settings):
    response = client_for(ben).post(
        "/communities/new/", create_data(icon=fake_image_upload())
    )

    assert response.status_code == 200
    assert "This file is not an image we can read." in text(response)
    assert not Community.objects.exists()
    icons = settings.MEDIA_ROOT / "community-icons"
    assert not icons.exists() or not any(icons.iterdir())


def test_a_community_without_icon_has_no_icon_to_serve(owner):
    community = make_community(owner)

    assert (
        client_for(owner).get(f"/communities/{community.pk}/icon/").status_code == 404
    )


def test_the_owner_edits_name_description_category_policies_and_icon(owner):
    community = make_community(owner, name="Beans", icon=png_upload())
    old_icon = community.icon.name
    client = client_for(owner)
    form = text(client.get(f"/communities/{community.pk}/edit/"))
    assert 'value="Beans"' in form

    response = client.post(
        f"/communities/{community.pk}/edit/",
        create_data(
            name="Roasted Beans",
            description="Now with tea.",
            category="hobbies",
            join_policy="secret",
            topic_policy="moderators",
            icon=png_upload(color=(250, 0, 0), gps=False),
        ),
        follow=True,
    )

    assert flashes(text(response)) == ["The community was saved."]
    community.refresh_from_db()
    assert (community.name, community.description, community.category) == (
        "Roasted Beans",
        "Now with tea.",
        "hobbies",
    )
    assert (community.join_policy, community.topic_policy) == ("secret", "moderators")
    assert community.icon.name != old_icon
    with community.icon.open("rb") as f:
        red, green, blue = Image.open(f).convert("RGB").getpixel((128, 128))
    assert red > 200 and green < 50 and blue < 50


def test_the_owner_removes_the_icon(owner):
    community = make_community(owner, icon=png_upload())

    client_for(owner).post(
        f"/communities/{community.pk}/edit/",
        create_data(name=community.name, remove_icon="on"),
    )

    community.refresh_from_db()
    assert not community.icon
    assert (
        client_for(owner).get(f"/communities/{community.pk}/icon/").status_code == 404
    )


def test_editing_to_a_taken_name_is_refused_clearly(owner):
    make_community(owner, name="Tea")
    community = make_community(owner, name="Coffee")

    response = client_for(owner).post(
        f"/communities/{community.pk}/edit/", create_data(name="tea")
    )

    assert response.status_code == 200
    assert "A community with this name already exists." in text(response)
    assert Community.objects.get(pk=community.pk).name == "Coffee"


@pytest.mark.parametrize("role", ["moderator", "member"])
def test_only_the_owner_may_edit(owner, ben, role):
    community = make_community(owner, name="Beans")
    put(community, ben, role=role)
    client = client_for(ben)
    assert "Edit community" not in text(client.get(f"/communities/{community.pk}/"))

    assert client.get(f"/communities/{community.pk}/edit/").status_code == 404
    response = client.post(
        f"/communities/{community.pk}/edit/", create_data(name="Taken Over")
    )

    assert response.status_code == 404
    assert Community.objects.get(pk=community.pk).name == "Beans"


# --- Topics -----------------------------------------------------------------------


def test_the_new_topic_form_is_labelled_title_and_message(owner):
    community = make_community(owner)

    body = text(client_for(owner).get(f"/communities/{community.pk}/topics/new/"))

    assert '<label for="id_title">Title</label>' in body
    assert '<label for="id_body">Message</label>' in body
    assert 'id="id_title"' in body
    assert 'id="id_body"' in body


def test_a_member_starts_a_topic_with_its_first_message(owner, ben):
    community = make_community(owner, name="Beans")
    actions.join_community(member=ben, community=community)
    client = client_for(ben)
    assert "New topic" in text(client.get(f"/communities/{community.pk}/"))

    response = client.post(
        f"/communities/{community.pk}/topics/new/",
        {"title": "Best grinder?", "body": "Burr or blade?", "client_id": "c-1"},
    )

    topic = Topic.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/topics/{topic.pk}/"
    assert (topic.title, topic.community, topic.created_by) == (
        "Best grinder?",
        community,
        ben,
    )
    message = Message.objects.get()
    assert (message.topic, message.author, message.body) == (
        topic,
        ben,
        "Burr or blade?",
    )
    page = text(client.get(f"/topics/{topic.pk}/"))
    assert "Burr or blade?" in page


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"title": "", "body": "Hello"}, "This field is required."),
        ({"title": "Hi", "body": ""}, "This field is required."),
        ({"title": "   ", "body": "Hello"}, "This field is required."),
        ({"title": "Hi", "body": "x" * 4001}, "at most 4000 characters"),
    ],
)
def test_a_topic_form_with_errors_saves_nothing(owner, data, error):
    community = make_community(owner)

    response = client_for(owner).post(
        f"/communities/{community.pk}/topics/new/", data | {"client_id": "c-1"}
    )

    assert response.status_code == 200
    assert error in text(response)
    assert not Topic.objects.exists()
    assert not Message.objects.exists()


def test_topics_are_listed_by_latest_activity(owner):
    community = make_community(owner)
    first = start_topic(community, owner, title="First topic")
    start_topic(community, owner, title="Second topic")
    client = client_for(owner)

    def titles():
        body = text(client.get(f"/communities/{community.pk}/"))
        return re.findall(r'<span class="topic-title">([^<]*)</span>', body)

    assert titles() == ["Second topic", "First topic"]

    client.post(f"/topics/{first.pk}/send/", {"body": "Bump!", "client_id": "bump-1"})

    assert titles() == ["First topic", "Second topic"]


def test_a_non_member_cannot_start_a_topic(owner, ben):
    community = make_community(owner)
    client = client_for(ben)

    assert client.get(f"/communities/{community.pk}/topics/new/").status_code == 404
    response = client.post(
        f"/communities/{community.pk}/topics/new/",
        {"title": "Sneaky", "body": "Hi", "client_id": "c-1"},
    )

    assert response.status_code == 404
    assert not Topic.objects.exists()
    assert not Message.objects.exists()


def test_a_non_member_sees_the_join_button_instead_of_topics(owner, ben):
    community = make_community(owner, description="All about beans.")
    start_topic(community, owner, title="Members only talk")

    body = text(client_for(ben).get(f"/communities/{community.pk}/"))

    assert "All about beans." in body
    assert "Join this community" in body
    assert "Topics are for members" in body
    assert "Members only talk" not in body
    assert "topics-heading" not in body


def test_a_member_sees_topics_and_no_join_button(owner, ben):
    community = make_community(owner)
    start_topic(community, owner, title="Members only talk")
    actions.join_community(member=ben, community=community)

    body = text(client_for(ben).get(f"/communities/{community.pk}/"))

    assert "Members only talk" in body
    assert "Join this community" not in body
    assert "Topics are for members" not in body


def test_when_only_moderators_start_topics_a_plain_member_cannot(owner, ben):
    community = make_community(owner, topic_policy="moderators")
    put(community, ben)
    client = client_for(ben)

    page = text(client.get(f"/communities/{community.pk}/"))
    assert "topics-heading" in page
    assert "New topic" not in page
    assert f"/communities/{community.pk}/topics/new/" not in page
    assert client.get(f"/communities/{community.pk}/topics/new/").status_code == 404
    response = client.post(
        f"/communities/{community.pk}/topics/new/",
        {"title": "Sneaky", "body": "Hi", "client_id": "c-1"},
    )
    assert response.status_code == 404
    assert not Topic.objects.exists()


@pytest.mark.parametrize("role", ["moderator", "owner"])
def test_when_only_moderators_start_topics_moderators_and_owner_can(owner, ben, role):
    community = make_community(owner, topic_policy="moderators")
    starter = owner
    if role == "moderator":
        put(community, ben, role="moderator")
        starter = ben
    client = client_for(starter)

    assert "New topic" in text(client.get(f"/communities/{community.pk}/"))
    response = client.post(
        f"/communities/{community.pk}/topics/new/",
        {"title": "Announcement", "body": "Hello all", "client_id": "c-1"},
    )

    assert response.status_code == 302
    assert Topic.objects.get().created_by == starter


def test_community_page_query_count_stays_flat_as_topics_grow(owner):
    community = make_community(owner)
    client = client_for(owner)

    def topics_shown():
        body = text(client.get(f"/communities/{community.pk}/"))
        return len(re.findall(r'class="topic-title"', body))

    for n in range(3):
        Topic.objects.create(community=community, title=f"Topic {n}", created_by=owner)
    with CaptureQueriesContext(connection) as few:
        assert topics_shown() == 3

    for n in range(3, 40):
        Topic.objects.create(community=community, title=f"Topic {n}", created_by=owner)
    with CaptureQueriesContext(connection) as many:
        assert topics_shown() == 20

    assert len(few) == len(many), [q["sql"] for q in many.captured_queries]


def test_member_list_query_count_stays_flat_as_members_grow(owner, member_factory):
    community = make_community(owner, join_policy="approval")
    client = client_for(owner)

    def grow(n):
        for _ in range(n):
            put(community, member_factory())
            put(community, member_factory(), status="pending")

    def rows():
        body = text(client.get(f"/communities/{community.pk}/members/"))
        return body.count('class="member-row"')

    grow(2)
    with CaptureQueriesContext(connection) as few:
        assert rows() == 3 + 2

    grow(30)
    with CaptureQueriesContext(connection) as many:
        assert rows() == 33 + 32

    assert len(few) == len(many), [q["sql"] for q in many.captured_queries]


def test_member_list_shows_the_owner_then_moderators_then_members(
    owner, ben, chika, daichi
):
    community = make_community(owner)
    put(community, ben)
    put(community, chika, role="moderator")
    put(community, daichi)

    page = text(client_for(ben).get(f"/communities/{community.pk}/members/"))

    names = re.findall(r"<span>(aiko|ben|chika|daichi)</span>", page)
    assert names == ["aiko", "chika", "ben", "daichi"]


@pytest.mark.parametrize("blocker", ["viewer", "member"])
def test_member_list_leaves_out_members_blocked_either_way(
    owner, ben, chika, daichi, blocker
):
    community = make_community(owner, join_policy="approval")
    put(community, ben)
    put(community, chika)
    put(community, daichi, status="pending")
    for hidden in (chika, daichi):
        pair = (owner, hidden) if blocker == "viewer" else (hidden, owner)
        Block.objects.create(blocker=pair[0], blocked=pair[1])

    page = text(client_for(owner).get(f"/communities/{community.pk}/members/"))
    names = set(re.findall(r"<span>(aiko|ben|chika|daichi)</span>", page))
    assert names == {"aiko", "ben"}
    # ben, who blocked no one, still sees chika.
    page = text(client_for(ben).get(f"/communities/{community.pk}/members/"))
    assert "<span>chika</span>" in page
