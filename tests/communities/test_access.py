"""Who sees what of a community, cell by cell.

The matrix is the contract: for every kind of viewer and every join policy, the
status code of each page of a community. A secret community answers exactly as
a community that does not exist, so a guessed id reveals nothing. One wrong
cell fails with an id such as `pending-secret-community`.
"""

import pytest
from django.test import Client

from accounts.actions import make_friends
from communities.models import Community, Membership
from tests.communities import (
    make_community,
    png_upload,
    put,
    start_topic,
)
from tests.conftest import client_for

VIEWERS = [
    "anonymous",
    "non_member",
    "member_elsewhere",
    "pending",
    "invited",
    "banned",
    "member",
    "moderator",
    "owner",
]
POLICIES = ["open", "approval", "secret"]
PAGES = {
    "community": "/communities/{community}/",
    "members": "/communities/{community}/members/",
    "topic": "/topics/{topic}/",
    "topic_create": "/communities/{community}/topics/new/",
    "edit": "/communities/{community}/edit/",
    "icon": "/communities/{community}/icon/",
}

LOGIN = 302
# Who may see that the community exists, but not its insides. A link to one of
# its topics shows the community's page and the way in (no topic, no messages).
OUTSIDE = {
    "community": 200,
    "members": 404,
    "topic": 200,
    "topic_create": 404,
    "edit": 404,
    "icon": 200,
}
INSIDE = {
    "community": 200,
    "members": 200,
    "topic": 200,
    "topic_create": 200,
    "edit": 404,
    "icon": 200,
}
OWNER = INSIDE | {"edit": 200}
# A secret community's topics, and any topic of a community one is banned
# from, answer as a missing topic does.
NO_WAY_IN = OUTSIDE | {"topic": 404}
NOTHING = dict.fromkeys(PAGES, 404)
TO_LOGIN = dict.fromkeys(PAGES, LOGIN)

EXPECTED = {
    "anonymous": {"open": TO_LOGIN, "approval": TO_LOGIN, "secret": TO_LOGIN},
    "non_member": {"open": OUTSIDE, "approval": OUTSIDE, "secret": NOTHING},
    # Active in another community only: nothing of that carries over here.
    "member_elsewhere": {"open": OUTSIDE, "approval": OUTSIDE, "secret": NOTHING},
    # A request (or a ban) never reveals a secret community: such a state can
    # only be left over from before the owner made the community secret.
    "pending": {"open": OUTSIDE, "approval": OUTSIDE, "secret": NOTHING},
    # An invitee may look at the community they are invited to, not inside it.
    "invited": {"open": OUTSIDE, "approval": OUTSIDE, "secret": NO_WAY_IN},
    "banned": {"open": NO_WAY_IN, "approval": NO_WAY_IN, "secret": NOTHING},
    "member": {"open": INSIDE, "approval": INSIDE, "secret": INSIDE},
    "moderator": {"open": INSIDE, "approval": INSIDE, "secret": INSIDE},
    "owner": {"open": OWNER, "approval": OWNER, "secret": OWNER},
}

CELLS = [
    pytest.param(viewer, policy, page, EXPECTED[viewer][policy][page], id=cell_id)
    for viewer in VIEWERS
    for policy in POLICIES
    for page in PAGES
    for cell_id in [f"{viewer}-{policy}-{page}"]
]


@pytest.fixture
def world(owner):
    """A community of each policy, owned by aiko, with an icon and a topic."""

    def make(policy: str):
        community = make_community(
            owner, name="Shimokita", join_policy=policy, icon=png_upload()
        )
        topic = start_topic(community, owner, title="Live chat", body="Hello!")
        return owner, community, topic

    return make


def viewer_client(viewer: str, owner, community, member_factory):
    if viewer == "anonymous":
        return Client()
    if viewer == "owner":
        return client_for(owner)
    someone = member_factory(nickname="visitor")
    if viewer == "member":
        put(community, someone)
    elif viewer == "moderator":
        put(community, someone, role=Membership.Role.MODERATOR)
    elif viewer == "member_elsewhere":
        put(make_community(owner, name="Elsewhere"), someone)
    elif viewer != "non_member":
        put(community, someone, status=viewer)
    return client_for(someone)


@pytest.mark.parametrize(("viewer", "policy", "page", "expected"), CELLS)
def test_access_matrix(world, member_factory, viewer, policy, page, expected):
    owner, community, topic = world(policy)
    client = viewer_client(viewer, owner, community, member_factory)
    url = PAGES[page].format(community=community.pk, topic=topic.pk)

    response = client.get(url)

    assert response.status_code == expected
    if expected == LOGIN:
        assert response["Location"] == f"/accounts/login/?next={url}"
    if expected == 404:
        body = response.content.decode()
        assert "Shimokita" not in body
        assert "Live chat" not in body


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("viewer", VIEWERS[1:])
def test_topic_titles_show_on_the_community_page_only_to_active_members(
    world, member_factory, viewer, policy
):
    owner, community, topic = world(policy)
    client = viewer_client(viewer, owner, community, member_factory)

    response = client.get(f"/communities/{community.pk}/")

    if response.status_code == 404:
        assert EXPECTED[viewer][policy]["community"] == 404
        return
    body = response.content.decode()
    if viewer in ("member", "moderator", "owner"):
        assert "Live chat" in body
        assert f'href="/topics/{topic.pk}/"' in body
    else:
        assert "Live chat" not in body
        assert f"/topics/{topic.pk}/" not in body


# --- Secret communities and guessed ids -------------------------------------------

GUESSABLE_GETS = [
    "/communities/{id}/",
    "/communities/{id}/members/",
    "/communities/{id}/icon/",
    "/communities/{id}/edit/",
    "/communities/{id}/topics/new/",
]
GUESSABLE_POSTS = [
    ("/communities/{id}/join/", {}),
    ("/communities/{id}/leave/", {}),
    ("/communities/{id}/invite/", {"friend": "1"}),
    ("/communities/{id}/requests/{owner}/", {"decision": "accept"}),
    ("/communities/{id}/members/{owner}/role/", {"role": "member"}),
    ("/communities/{id}/edit/", {"name": "Mine now", "category": "other"}),
    (
        "/communities/{id}/topics/new/",
        {"title": "Hi", "body": "Hi", "client_id": "guess-1"},
    ),
]


@pytest.fixture
def secret(owner):
    community = make_community(
        owner, name="Hidden Coffee", join_policy="secret", icon=png_upload()
    )
    start_topic(community, owner, title="Whispers")
    return owner, community


@pytest.mark.parametrize("path", GUESSABLE_GETS)
def test_a_guessed_secret_id_answers_like_a_missing_one(secret, member_factory, path):
    owner, community = secret
    client = client_for(member_factory(nickname="stranger"))
    missing_id = Community.objects.order_by("-pk").first().pk + 1000

    found = client.get(path.format(id=community.pk))
    missing = client.get(path.format(id=missing_id))

    assert found.status_code == missing.status_code == 404
    assert found.content == missing.content
    assert b"Hidden Coffee" not in found.content


@pytest.mark.parametrize(("path", "data"), GUESSABLE_POSTS)
def test_a_guessed_secret_id_accepts_no_writes(secret, member_factory, path, data):
    owner, community = secret
    stranger = member_factory(nickname="stranger")
    make_friends(stranger, owner)
    before = list(
        Membership.objects.filter(community=community)
        .order_by("pk")
        .values_list("member", "role", "status")
    )

    response = client_for(stranger).post(
        path.format(id=community.pk, owner=owner.pk), data
    )

    assert response.status_code == 404
    assert b"Hidden Coffee" not in response.content
    after = list(
        Membership.objects.filter(community=community)
        .order_by("pk")
        .values_list("member", "role", "status")
    )
    assert after == before
    community.refresh_from_db()
    assert community.name == "Hidden Coffee"
    assert community.topics.count() == 1


@pytest.mark.parametrize("status", ["active", "invited"])
def test_members_and_invitees_reach_the_secret_community_page(
    secret, member_factory, status
):
    _owner, community = secret
    someone = member_factory(nickname="friend")
    put(community, someone, status=status)

    response = client_for(someone).get(f"/communities/{community.pk}/")

    assert response.status_code == 200
    assert b"Hidden Coffee" in response.content


def test_a_member_who_leaves_a_secret_community_loses_sight_of_it(
    secret, member_factory
):
    _owner, community = secret
    someone = member_factory(nickname="friend")
    put(community, someone)
    client = client_for(someone)
    assert client.get(f"/communities/{community.pk}/").status_code == 200

    client.post(f"/communities/{community.pk}/leave/")

    assert client.get(f"/communities/{community.pk}/").status_code == 404
    assert client.get(f"/communities/{community.pk}/icon/").status_code == 404


def test_a_member_banned_from_a_secret_community_loses_sight_of_it(
    secret, member_factory
):
    _owner, community = secret
    someone = member_factory(nickname="friend")
    membership = put(community, someone)
    client = client_for(someone)
    assert client.get(f"/communities/{community.pk}/").status_code == 200

    membership.status = Membership.Status.BANNED
    membership.save()

    for path in GUESSABLE_GETS:
        assert client.get(path.format(id=community.pk)).status_code == 404, path
