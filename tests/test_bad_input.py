"""Bad input gets a clear answer, never a 500 (issue 6, section 5, HTTP side).

The walk below requests every URL pattern the resolver has (walked from
get_resolver(), so a new URL is covered the day it is added) with hostile
values in each path parameter and in a set of query and form parameters, by
GET and by POST, as every role, and asserts that nothing answers 5xx. It runs
on PostgreSQL in CI (.ci/run sets DATABASE_URL), where NUL characters used to
reach the database.

Each request starts from the same world: it runs in a savepoint that is rolled
back after it (an admin delete or a logout does not change what the next
request sees), and what it scheduled on commit (broadcasts) runs before that.
"""

import copy
import logging
import time
import uuid
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.test import AsyncClient, Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.regex_helper import normalize

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


def _encoded(text: str) -> str:
    return quote(text, safe="")


# name: the value as it goes on the wire (percent-encoded where it is text).
HOSTILE = {
    "nul": _encoded("a\x00b"),
    "control": _encoded("a\x01\x08\x1b[31m\x7f\x85b"),
    "100kb": "x" * 100_000,
    "huge_int": "99999999999999999999999",
    "negative": "-1",
    "calendar_start": _encoded("0001-01-01T00:00:00+14:00"),
    "calendar_end": _encoded("9999-12-31T23:59:59-14:00"),
    # Broken percent-encoding, and bytes that are not UTF-8: a lone surrogate
    # cannot be encoded as UTF-8, and its CESU-8 bytes are the closest a
    # client can send.
    "not_utf8": "%zz%ff%ED%A0%80%",
    "markup_and_invisible": _encoded("<script>alert(1)</script>\"'&\u202e\u200b\ufeff"),
}

# The query and form parameters the views and the admin read, each given the
# hostile value at once; plus the value as a key of its own.
KEYS = [
    *("before", "after", "since", "page", "q", "category", "sort", "next"),
    *("body", "client_id", "reply_to", "last_id", "friend", "decision", "role"),
    *("language", "title", "name", "description", "join_policy", "topic_policy"),
    *("introduction", "note", "nickname", "login", "password", "password1"),
    *("password2", "oldpassword", "remember", "o", "p", "_to_field", "_popup"),
    *("_changelist_filters", "term", "app_label", "model_name", "field_name"),
    *("action", "_selected_action", "post"),
]

ROLES = ("anonymous", "stranger", "community_member", "owner", "staff")


def _leaf_count(patterns) -> int:
    """How many URL patterns the resolver has, counted on its own."""
    return sum(
        _leaf_count(p.url_patterns) if isinstance(p, URLResolver) else 1
        for p in patterns
    )


def _walk(patterns, prefix="", names=()):
    """Every URL pattern as (its route text, a %-format of its path, params)."""
    for pattern in patterns:
        (fmt, params), *_ = normalize(pattern.pattern.regex.pattern)
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(
                pattern.url_patterns, route, (*names, (fmt, tuple(params)))
            )
        else:
            assert isinstance(pattern, URLPattern)
            parts = (*names, (fmt, tuple(params)))
            yield (
                route,
                "".join(f for f, _p in parts),
                tuple(p for _f, ps in parts for p in ps),
            )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Before any member is made: hashing strength is not what this proves.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def quiet_errors(caplog):
    # Each failure is listed by the assertion below; logging its traceback as
    # well (with a 100 KB value in it) would take most of the walk's time.
    for name in ("django.request", "django.security"):
        caplog.set_level(logging.CRITICAL + 1, logger=name)


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


def status_of(response) -> int:
    """The status a refusal stands for: htmx requests get 200 with the status
    in X-Refused (project/refusals.py), everything else the status itself."""
    return int(response.headers.get("X-Refused", response.status_code))


def _aiko(world) -> Client:
    return client_for(world["users"]["community_member"])


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
def test_a_nul_character_in_the_path_is_a_clear_400(world, htmx):
    response = _aiko(world).get("/members/a%00b/", **(HTMX if htmx else {}))

    assert status_of(response) == 400
    assert CONTROL_IN_PATH in response.content.decode()
    if htmx:
        assert (response.status_code, response["X-Refused"]) == (200, "400")
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

    assert status_of(response) == 400
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

    assert status_of(response) == 400
    assert response.content.decode() in (
        "A field name in the request is too long or not text.",
        "“q” contains a control character, which is not allowed.",
    )


def test_an_over_long_value_is_a_400_that_names_the_field_and_the_limit(world):
    response = _aiko(world).get("/communities/", {"q": "x" * 100_000}, **HTMX)

    assert status_of(response) == 400
    assert response.content.decode() == "“q” is too long (at most 2000 characters)."


def test_a_form_larger_than_the_site_takes_is_a_400_that_says_so(world):
    body = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response = _aiko(world).post(
        _topic_url(world, "message-create"), {"body": body}, **HTMX
    )

    assert status_of(response) == 400
    assert response.content.decode() == "The form is too large."
    assert not Message.objects.filter(body__startswith="xxx").exists()


def test_a_form_with_too_many_fields_is_a_400_that_says_so(world):
    fields = {f"f{n}": "1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}

    response = _aiko(world).post(_topic_url(world, "message-create"), fields, **HTMX)

    assert status_of(response) == 400
    assert response.content.decode() == "The form has too many fields or files."


def test_an_over_long_path_is_a_400(world):
    response = _aiko(world).get("/members/" + "x" * 100_000 + "/")

    assert status_of(response) == 400
    assert "The address is too long (at most 2000 characters)." in (
        response.content.decode()
    )


def test_the_refusal_is_in_the_members_language(world):
    response = _aiko(world).get("/members/a%00b/", HTTP_ACCEPT_LANGUAGE="ja", **HTMX)

    assert status_of(response) == 400
    assert response.content.decode() == "アドレスに制御文字が含まれています。"


def test_a_damaged_session_cookie_is_a_400_that_removes_it(world):
    client = Client()
    # A cookie's quoted value may carry octal escapes; this one decodes to a
    # NUL, which would reach the session table.
    name = settings.SESSION_COOKIE_NAME
    client.cookies[name] = ""
    client.cookies[name].set(name, "abcdefgh\x00ijkl", '"abcdefgh\\000ijkl"')

    response = client.get("/accounts/login/")

    assert status_of(response) == 400
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""
    assert client.get("/accounts/login/").status_code == 200


def test_another_apps_cookie_with_utf8_text_does_not_break_any_page(world):
    # Cookie headers reach Django decoded as latin-1: UTF-8 text looks like
    # U+0080..U+00FF, C1 "controls" included. A cookie this site does not
    # read (another app's, on a parent domain) must not cost a member the site.
    value = "日本語のメモ".encode().decode("latin-1")
    assert any("\x80" <= char <= "\x9f" for char in value)
    session = _aiko(world).cookies[settings.SESSION_COOKIE_NAME].value
    # Through ASGI, as Daphne serves it (WSGI re-decodes cookies as UTF-8).
    client = AsyncClient()
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; prefs={value}"

    response = async_to_sync(client.get)("/", headers={"cookie": cookie})

    assert response.status_code == 200
    assert response.context["user"] == world["users"]["community_member"]


def test_too_many_query_parameters_are_a_clear_400(world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"a{n}=1" for n in range(11))

    response = _aiko(world).get(f"/communities/?{query}")

    assert status_of(response) == 400
    assert "too many parameters" in response.content.decode()


@pytest.mark.parametrize(
    "since",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-99-99T00:00"],
    ids=["calendar-start", "calendar-end", "impossible"],
)
def test_catch_up_since_outside_the_usable_calendar_is_a_clear_400(world, since):
    response = _aiko(world).get(
        _topic_url(world, "message-list"), {"after": 0, "since": since}, **HTMX
    )

    assert status_of(response) == 400
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

    assert status_of(response) == 400
    assert response.content.decode() == (
        f"“{param}” must be a whole number from 0 to 9223372036854775807."
    )


def test_a_read_position_that_is_not_an_id_is_a_clear_400(world):
    response = _aiko(world).post(
        _topic_url(world, "topic-read"), {"last_id": "99999999999999999999999"}, **HTMX
    )

    assert status_of(response) == 400
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


@pytest.mark.parametrize("next_url", ["1", "0001-01-01T00:00:00+14:00", "%zz"])
def test_a_next_that_is_not_a_path_is_ignored_not_taken_for_a_url_name(world, next_url):
    community_id = world["valid"]["community_id"]
    stranger = client_for(world["users"]["stranger"])
    staff = client_for(world["users"]["staff"])

    joined = stranger.post(f"/communities/{community_id}/join/", {"next": next_url})
    admin = staff.get("/admin/login/", {"next": next_url})

    assert (joined.status_code, joined["Location"]) == (
        302,
        f"/communities/{community_id}/",
    )
    assert (admin.status_code, admin["Location"]) == (302, "/admin/")


def test_a_next_that_is_a_path_on_this_site_is_followed(world):
    community_id = world["valid"]["community_id"]
    topic_url = _topic_url(world)
    stranger = client_for(world["users"]["stranger"])

    joined = stranger.post(f"/communities/{community_id}/join/", {"next": topic_url})

    assert (joined.status_code, joined["Location"]) == (302, topic_url)


# --- Every URL, every role -----------------------------------------------------------


def _request(client, method, path, query, on_commit):
    """One request in a transaction rolled back after it; its 5xx or the error
    its on-commit work raised, else None."""
    problem = None
    with transaction.atomic():
        try:
            with on_commit(execute=True):
                if method == "GET":
                    response = client.get(f"{path}?{query}", **HTMX)
                else:
                    response = client.post(
                        f"{path}?{query}",
                        query,
                        content_type="application/x-www-form-urlencoded",
                    )
        except Exception as exc:  # noqa: BLE001 (the after-commit work failed)
            problem = f"on commit: {exc!r}"[:300]
        else:
            if response.status_code >= 500:
                exc = response.exc_info[1] if response.exc_info else None
                problem = f"{response.status_code} {exc!r}"[:300]
        transaction.set_rollback(True)
    return problem


# About 11,000 requests: a minute or two on two cores.
@pytest.mark.timeout(600)
def test_every_url_answers_hostile_input_from_every_role_without_a_5xx(
    world, django_capture_on_commit_callbacks, quiet_errors
):
    patterns = list(_walk(get_resolver().url_patterns))
    clients = {}
    for role, user in world["users"].items():
        client = Client(raise_request_exception=False)
        if user is not None:
            client = client_for(user, raise_request_exception=False)
        clients[role] = client
    benign_query = "page=1"
    failures, walked, requests = [], 0, 0
    started = time.monotonic()

    for route, fmt, params in patterns:
        valid = {p: _encoded(str(world["valid"].get(p, "1"))) for p in params}
        targets = []  # (path, query, what is hostile)
        for name, value in HOSTILE.items():
            hostile_query = "&".join(f"{key}={value}" for key in KEYS)
            hostile_query += f"&{value}=1"
            targets.append(("/" + fmt % valid, hostile_query, f"query {name}"))
            for param in params:
                path = "/" + fmt % {**valid, param: value}
                targets.append((path, benign_query, f"{param}={name}"))
        for role, client in clients.items():
            cookies = copy.deepcopy(client.cookies)
            for path, query, what in targets:
                for method in ("GET", "POST"):
                    requests += 1
                    problem = _request(
                        client, method, path, query, django_capture_on_commit_callbacks
                    )
                    # A logout in the request must not carry over to the next.
                    client.cookies = copy.deepcopy(cookies)
                    if problem:
                        failures.append(
                            f"{method} {route} [{what}] as {role}: {problem}"
                        )
        walked += 1

    elapsed = time.monotonic() - started
    print(
        f"\nwalked {walked} URL patterns x {len(HOSTILE)} hostile values"
        f" (each path parameter and {len(KEYS) + 1} query/form parameters)"
        f" x {len(ROLES)} roles x GET/POST: {requests} requests in {elapsed:.0f} s,"
        f" {len(failures)} answered 5xx"
    )
    # Every pattern the resolver has, counted apart from the walk.
    assert walked == _leaf_count(get_resolver().url_patterns)
    assert set(clients) == set(ROLES)
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"
