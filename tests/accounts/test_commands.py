"""Management commands: create_invitation and seed_demo."""

import io
import re
from itertools import permutations

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import Friendship, Invitation, Member
from diary.models import Entry
from presence import notifications
from presence.models import Footprint
from tests.accounts.helpers import logged_in_member_id

CIRCLE = {"aiko", "ben", "chika", "daichi"}
DEMO_NICKNAMES = CIRCLE | {"eri", "fumi"}
DEMO_PASSWORD = "enishi-demo"
NEW_PASSWORD = "kumo-no-ue-de-odoru"


def run(*args, **options):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def row_counts():
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if not model._meta.label.startswith(("sessions.", "admin."))
    }


# --- create_invitation ---------------------------------------------------------------


def test_create_invitation_prints_a_single_join_link_for_the_site(db):
    out, err = run("create_invitation")

    match = re.fullmatch(r"http://127\.0\.0\.1:8000/join/([A-Za-z0-9_-]+)/\n", out)
    assert match, out
    token = match.group(1)
    invitation = Invitation.objects.get()
    assert invitation.token_hash == Invitation.hash_token(token)
    assert invitation.inviter is None
    assert invitation.status == "open"
    assert "Valid until" in err


def test_create_invitation_uses_the_given_base_url_and_note(db):
    out, _err = run(
        "create_invitation", "--base-url", "https://enishi.example/", "--note", "first"
    )

    assert re.fullmatch(r"https://enishi\.example/join/[A-Za-z0-9_-]+/\n", out), out
    assert Invitation.objects.get().note == "first"


def test_printed_link_lets_the_first_member_join(db):
    out, _err = run("create_invitation")
    path = out.strip().removeprefix("http://127.0.0.1:8000")
    client = Client()

    assert client.get(path).status_code == 200
    response = client.post(
        path,
        {"nickname": "founder", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    founder = Member.objects.get(nickname="founder")
    assert founder.invited_by is None
    assert logged_in_member_id(client) == founder.pk
    assert not Friendship.objects.exists()
    assert client.get(path).status_code == 302  # logged in now: sent home
    assert Client().get(path).status_code == 410  # used


# --- seed_demo ----------------------------------------------------------------------


def test_seed_demo_creates_a_circle_of_four_a_friend_of_one_and_a_loner(db, settings):
    settings.DEBUG = True

    out, _err = run("seed_demo")

    members = Member.objects.filter(nickname__in=DEMO_NICKNAMES)
    assert set(members.values_list("nickname", flat=True)) == DEMO_NICKNAMES
    pairs = set(Friendship.objects.values_list("member__nickname", "friend__nickname"))
    assert pairs == set(permutations(CIRCLE, 2)) | {
        ("eri", "chika"),
        ("chika", "eri"),
    }
    assert DEMO_PASSWORD in out
    for nickname in DEMO_NICKNAMES:
        assert nickname in out


@pytest.mark.parametrize("nickname", sorted(DEMO_NICKNAMES))
def test_demo_member_logs_in_with_the_demo_password(db, settings, nickname):
    settings.DEBUG = True
    run("seed_demo")
    client = Client()

    client.post("/accounts/login/", {"login": nickname, "password": DEMO_PASSWORD})

    assert logged_in_member_id(client) == Member.objects.get(nickname=nickname).pk


def test_seed_demo_run_twice_creates_nothing_more(db, settings):
    settings.DEBUG = True
    run("seed_demo")
    first = row_counts()

    run("seed_demo")

    assert row_counts() == first
    assert first["accounts.Member"] == 6
    assert first["accounts.Friendship"] == 14
    assert first["diary.Entry"] == 6
    assert first["photos.Album"] == 2
    assert first["presence.Footprint"] == 4
    assert first["diary.Comment"] == 1
    assert first["diary.Like"] == 2
    assert first["accounts.FriendRequest"] == 1


def test_seed_demo_keeps_members_who_already_exist(member_factory, settings):
    settings.DEBUG = True
    aiko = member_factory(nickname="aiko")

    run("seed_demo")

    assert Member.objects.get(nickname="aiko").pk == aiko.pk
    assert Member.objects.count() == 6


def test_seed_demo_diaries_reach_each_member_as_their_audiences_say(db, settings):
    settings.DEBUG = True
    run("seed_demo")

    def seen_by(nickname):
        viewer = Member.objects.get(nickname=nickname)
        return set(
            Entry.objects.visible_to(viewer)
            .exclude(author=viewer)
            .values_list("author__nickname", "audience")
        )

    # aiko's entries: friends-only, friends of friends, only her.
    assert seen_by("ben") >= {("aiko", "friends"), ("aiko", "fof")}
    assert ("aiko", "me") not in seen_by("ben")
    # eri knows chika only: aiko's friends-of-friends entry, not her friends one,
    # and aiko sees eri's friends-of-friends entry in turn.
    assert {a for a in seen_by("eri") if a[0] == "aiko"} == {("aiko", "fof")}
    assert ("eri", "fof") in seen_by("aiko")
    # fumi knows nobody: only what is for all members.
    assert seen_by("fumi") == {("ben", "members")}


def test_seed_demo_refuses_when_debug_is_off(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        run("seed_demo")

    assert not Member.objects.exists()
    assert not Friendship.objects.exists()


def test_seed_demo_leaves_aiko_footprints_and_notifications_to_find(
    db, settings, django_capture_on_commit_callbacks
):
    settings.DEBUG = True
    # As in `make run`, where the command's transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        run("seed_demo")
    aiko = Member.objects.get(nickname="aiko")

    visitors = {f.visitor.nickname for f in Footprint.objects.filter(owner=aiko)}
    assert visitors == {"ben", "chika", "eri", "daichi"}
    kinds = set(notifications.visible_rows(aiko).values_list("kind", flat=True))
    assert {"diary_comment", "diary_like", "friend_request", "footprint"} <= kinds
    ben = Member.objects.get(nickname="ben")
    assert notifications.unread_count(ben) == 1  # aiko's @ben in the chat
