"""Bad input gets a clear answer, never a 500 (issue 6, section 5, HTTP side).

project/input.py looks at every request before any view: a control character
(a NUL reached PostgreSQL, which refuses it: a 500), an over-long value or a
damaged cookie is a 400 that says what was wrong, and changes nothing. A
parameter that is an id or a time is read by one parser each, and an id in a
path is a number the database can hold.
"""

import uuid

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import actions as account_actions
from chat.models import Message
from communities.models import JoinPolicy
from tests.conftest import client_for
from tests.factories import (
    CommunityFactory,
    MembershipFactory,
    MessageFactory,
    TopicFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
CONTROL_IN_PATH = "The address contains a control character."


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Before any member is made: hashing strength is not what this proves.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(member_factory, aiko, ben):
    """Real objects, so that valid ids exist and hostile values also land in
    the other parameters: aiko is a member of owner's open community, ben is a
    member of none, and staff is a superuser."""
    owner = member_factory(nickname="owner")
    staff = member_factory(nickname="staff", is_staff=True, is_superuser=True)
    community = CommunityFactory(
        owner=owner, name="Tea", join_policy=JoinPolicy.OPEN, member_count=2
    )
    MembershipFactory(community=community, member=aiko)
    topic = TopicFactory(community=community)
    message = MessageFactory(topic=topic, author=aiko, body="hello")
    MessageFactory(topic=topic, author=owner, body="hi", reply_to=message)
    invitation, token = account_actions.create_invitation(inviter=aiko)
    return {
        "users": {
            "anonymous": None,
            "stranger": ben,
            "community_member": aiko,
            "owner": owner,
            "staff": staff,
        },
        "valid": {
            "topic_id": topic.pk,
            "message_id": message.pk,
            "community_id": community.pk,
            "member_id": aiko.pk,
            "invitation_id": invitation.pk,
            "token": token,
            "nickname": "aiko",
            "object_id": aiko.pk,
            "id": aiko.pk,
            "content_type_id": 1,
            "app_label": "accounts",
            "url": "nothing-here/",
            "key": "x",
            "uidb36": "1",
        },
    }


# --- One rule for every request -----------------------------------------------------


def _topic_url(world, view="topic-detail") -> str:
    return reverse(f"chat:{view}", kwargs={"topic_id": world["valid"]["topic_id"]})


def _aiko(world) -> Client:
    return client_for(world["users"]["community_member"])


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
def test_a_nul_character_in_the_path_is_a_clear_400(world, htmx):
    response = _aiko(world).get("/members/a%00b/", **(HTMX if htmx else {}))

    assert response.status_code == 400
    assert CONTROL_IN_PATH in response.content.decode()
    if htmx:
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert response.content.decode() == CONTROL_IN_PATH
    else:
        assert response["Content-Type"] == "text/html; charset=utf-8"
        assert "<h1>Bad request</h1>" in response.content.decode()


@pytest.mark.parametrize("field", ["body", "client_id"])
@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\x85"])
def test_a_control_character_in_a_message_is_refused_and_saves_nothing(
    world, field, character
):
    form = {"body": "hello", "client_id": uuid.uuid4().hex}
    form[field] = f"a{character}b"

    response = _aiko(world).post(_topic_url(world, "message-create"), form, **HTMX)

    assert response.status_code == 400
    assert response.content.decode() == (
        f"“{field}” contains a control character, which is not allowed."
    )
    assert Message.objects.filter(body__startswith="a").count() == 0


def test_tabs_and_line_breaks_in_a_message_are_kept(world):
    form = {"body": "a\tb\r\nc", "client_id": uuid.uuid4().hex}

    response = _aiko(world).post(_topic_url(world, "message-create"), form, **HTMX)

    assert response.status_code == 201
    assert Message.objects.filter(body="a\tb\nc").exists()


@pytest.mark.parametrize("where", ["key", "value"])
def test_a_control_character_in_a_query_name_or_value_is_a_400(world, where):
    query = "q%0A=tea" if where == "key" else "q=tea%0A"

    response = _aiko(world).get(f"/communities/?{query}", **HTMX)

    assert response.status_code == 400
    assert response.content.decode() in (
        "A field name in the request is too long or not text.",
        "“q” contains a control character, which is not allowed.",
    )


def test_an_over_long_value_is_a_400_that_names_the_field_and_the_limit(world):
    response = _aiko(world).get("/communities/", {"q": "x" * 100_000}, **HTMX)

    assert response.status_code == 400
    assert response.content.decode() == "“q” is too long (at most 2000 characters)."


def test_an_over_long_path_is_a_400(world):
    response = _aiko(world).get("/members/" + "x" * 100_000 + "/")

    assert response.status_code == 400
    assert "The address is too long (at most 2000 characters)." in (
        response.content.decode()
    )


def test_the_refusal_is_in_the_members_language(world):
    response = _aiko(world).get("/members/a%00b/", HTTP_ACCEPT_LANGUAGE="ja", **HTMX)

    assert response.status_code == 400
    assert response.content.decode() == "アドレスに制御文字が含まれています。"


def test_a_damaged_session_cookie_is_a_400_that_removes_it(world):
    client = Client()
    # A cookie's quoted value may carry octal escapes; this one decodes to a
    # NUL, which would reach the session table.
    name = settings.SESSION_COOKIE_NAME
    client.cookies[name] = ""
    client.cookies[name].set(name, "abcdefgh\x00ijkl", '"abcdefgh\\000ijkl"')

    response = client.get("/accounts/login/")

    assert response.status_code == 400
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""
    assert client.get("/accounts/login/").status_code == 200


@pytest.mark.parametrize(
    "since",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-99-99T00:00"],
    ids=["calendar-start", "calendar-end", "impossible"],
)
def test_catch_up_since_outside_the_usable_calendar_is_a_clear_400(world, since):
    response = _aiko(world).get(
        _topic_url(world, "message-list"), {"after": 0, "since": since}, **HTMX
    )

    assert response.status_code == 400
    assert response.content.decode() == (
        "“since” must be a date and time (ISO 8601) between the years 1900 and 9000."
    )


def test_catch_up_since_a_time_without_a_zone_is_read_in_the_sites_zone(world):
    message = Message.objects.get(pk=world["valid"]["message_id"])
    Message.objects.filter(pk=message.pk).update(changed_at=timezone.now())

    response = _aiko(world).get(
        _topic_url(world, "message-list"),
        {"after": message.pk, "since": "2000-01-01T00:00:00"},
        **HTMX,
    )

    assert response.status_code == 200
    assert f'id="message-{message.pk}"' in response.content.decode()


@pytest.mark.parametrize("param", ["before", "after"])
@pytest.mark.parametrize("value", ["99999999999999999999999", "-1", "1.5", "x"])
def test_a_page_position_that_is_not_an_id_is_a_clear_400(world, param, value):
    response = _aiko(world).get(
        _topic_url(world, "message-list"), {param: value}, **HTMX
    )

    assert response.status_code == 400
    assert response.content.decode() == (
        f"“{param}” must be a whole number from 0 to 9223372036854775807."
    )


def test_a_read_position_that_is_not_an_id_is_a_clear_400(world):
    response = _aiko(world).post(
        _topic_url(world, "topic-read"), {"last_id": "99999999999999999999999"}, **HTMX
    )

    assert response.status_code == 400
    assert "“last_id” must be a whole number" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/topics/{n}/",
        "/messages/{n}/like/",
        "/communities/{n}/",
        "/communities/{community}/requests/{n}/",
        "/invitations/{n}/revoke/",
    ],
)
@pytest.mark.parametrize("n", ["99999999999999999999999", "9223372036854775808"])
def test_an_id_too_large_for_the_database_is_not_found(world, path, n):
    owner = client_for(world["users"]["owner"])
    url = path.format(n=n, community=world["valid"]["community_id"])

    assert owner.get(url).status_code == 404
    assert owner.post(url, {"decision": "accept"}).status_code == 404
