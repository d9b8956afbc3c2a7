"""Writes for invitations, joining and friendships (accounts/actions.py)."""

import base64
import hashlib
import threading
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from accounts import actions
from accounts.models import Friendship, Invitation, Member
from tests.conftest import PASSWORD

NEW_PASSWORD = "kumo-no-ue-de-odoru"


def friend_pairs():
    return set(Friendship.objects.values_list("member__nickname", "friend__nickname"))


def values_in_database():
    """Every value of every row of every table, as text."""
    for model in apps.get_models():
        for row in model._default_manager.values_list():
            for value in row:
                yield str(value)


# --- Creating invitations ---------------------------------------------------------


def test_invitation_token_carries_at_least_128_random_bits(member, invite):
    tokens = [invite(member)[1] for _ in range(5)]

    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128
    assert len(set(tokens)) == 5


def test_only_the_sha256_of_the_token_is_stored(member, invite):
    invitation, token = invite(member, note="for chika")

    invitation.refresh_from_db()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in value for value in values_in_database())


def test_invitation_is_valid_for_seven_days(member, invite, monkeypatch):
    invitation, token = invite(member)
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    created = invitation.created_at

    monkeypatch.setattr(
        timezone, "now", lambda: created + timedelta(days=7, minutes=-1)
    )
    assert actions.find_open_invitation(token).pk == invitation.pk

    monkeypatch.setattr(timezone, "now", lambda: created + timedelta(days=7))
    with pytest.raises(actions.InvitationInvalid, match="expired") as info:
        actions.find_open_invitation(token)
    assert info.value.gone is True


def test_member_may_hold_ten_open_invitations_and_no_more(member, invite):
    for _ in range(10):
        invite(member)

    with pytest.raises(actions.ActionRefused, match="10 open invitations"):
        invite(member)

    assert Invitation.objects.created_by(member).count() == 10


def test_spent_invitations_do_not_count_toward_the_limit(member, invite):
    used, used_token = invite(member)
    actions.join_with_invitation(
        token=used_token, nickname="chika", password=NEW_PASSWORD
    )
    revoked, _token = invite(member)
    actions.revoke_invitation(member=member, invitation_id=revoked.pk)
    expired, _token = invite(member)
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    for _ in range(10):
        invite(member)

    assert Invitation.objects.created_by(member).count() == 13
    with pytest.raises(actions.ActionRefused):
        invite(member)


def test_one_members_open_invitations_do_not_limit_another(
    member, other_member, invite
):
    for _ in range(10):
        invite(member)

    invitation, _token = invite(other_member)

    assert invitation.inviter == other_member


def test_site_invitations_have_no_inviter_and_no_limit(db, invite):
    for _ in range(11):
        invite(None)

    assert Invitation.objects.filter(inviter=None).count() == 11


def test_note_is_trimmed_to_one_hundred_characters(member, invite):
    invitation, _token = invite(member, note="  " + "n" * 150)

    invitation.refresh_from_db()
    assert invitation.note == "n" * 100


@pytest.mark.django_db(transaction=True)
def test_two_tabs_creating_the_tenth_invitation_at_once_get_only_one(member):
    for _ in range(9):
        actions.create_invitation(inviter=member)
    barrier = threading.Barrier(2, timeout=10)
    outcomes = []

    def create():
        try:
            barrier.wait()
            actions.create_invitation(inviter=member)
            outcomes.append("created")
        except actions.ActionRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["created", "refused"]
    assert Invitation.objects.created_by(member).open().count() == 10


# --- Revoking invitations -----------------------------------------------------------


def test_member_revokes_own_open_invitation(member, invite):
    invitation, token = invite(member)

    actions.revoke_invitation(member=member, invitation_id=invitation.pk)

    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert invitation.status == "revoked"
    with pytest.raises(actions.InvitationInvalid, match="withdrawn"):
        actions.find_open_invitation(token)


def test_revoking_someone_elses_invitation_is_refused_and_changes_nothing(
    member, other_member, invite
):
    invitation, token = invite(other_member)

    with pytest.raises(actions.ActionRefused, match="does not exist"):
        actions.revoke_invitation(member=member, invitation_id=invitation.pk)

    invitation.refresh_from_db()
    assert invitation.revoked_at is None
    assert actions.find_open_invitation(token).pk == invitation.pk


def test_used_invitation_cannot_be_revoked(member, invite):
    invitation, token = invite(member)
    actions.join_with_invitation(token=token, nickname="chika", password=NEW_PASSWORD)

    with pytest.raises(actions.ActionRefused, match="Only an open invitation"):
        actions.revoke_invitation(member=member, invitation_id=invitation.pk)

    invitation.refresh_from_db()
    assert invitation.revoked_at is None


# --- Finding an invitation by its token ------------------------------------------


def test_unknown_token_is_not_valid_and_not_gone(db):
    with pytest.raises(actions.InvitationInvalid, match="not valid") as info:
        actions.find_open_invitation("no-such-token")

    assert info.value.gone is False


def test_used_invitation_is_gone(member, invite):
    _invitation, token = invite(member)
    actions.join_with_invitation(token=token, nickname="chika", password=NEW_PASSWORD)

    with pytest.raises(actions.InvitationInvalid, match="already been used") as info:
        actions.find_open_invitation(token)

    assert info.value.gone is True


# --- Joining ------------------------------------------------------------------------


def test_joining_creates_member_befriends_inviter_and_uses_invitation(member, invite):
    invitation, token = invite(member)

    chika = actions.join_with_invitation(
        token=token, nickname="Ｃhika", password=NEW_PASSWORD
    )

    chika.refresh_from_db()
    assert chika.nickname == "Chika"
    assert chika.invited_by == member
    assert chika.check_password(NEW_PASSWORD)
    assert friend_pairs() == {("aiko", "Chika"), ("Chika", "aiko")}
    invitation.refresh_from_db()
    assert invitation.used_by == chika
    assert invitation.used_at is not None
    assert invitation.status == "used"


def test_joining_with_a_site_invitation_makes_no_friends(db, invite):
    _invitation, token = invite(None)

    chika = actions.join_with_invitation(
        token=token, nickname="chika", password=NEW_PASSWORD
    )

    assert chika.invited_by is None
    assert not Friendship.objects.exists()


def test_invitation_works_only_once(member, invite):
    _invitation, token = invite(member)
    actions.join_with_invitation(token=token, nickname="chika", password=NEW_PASSWORD)

    with pytest.raises(actions.InvitationInvalid):
        actions.join_with_invitation(
            token=token, nickname="daichi", password=NEW_PASSWORD
        )

    assert not Member.objects.filter(nickname="daichi").exists()


@pytest.mark.parametrize("nickname", ["aiko", "AIKO", "ＡＩＫＯ", " aiko "])
def test_joining_with_a_taken_nickname_is_refused_and_leaves_link_open(
    member, invite, nickname
):
    invitation, token = invite(member)

    with pytest.raises(actions.ActionRefused, match="taken"):
        actions.join_with_invitation(token=token, nickname=nickname, password=PASSWORD)

    assert Member.objects.count() == 1
    invitation.refresh_from_db()
    assert invitation.status == "open"


@pytest.mark.parametrize("password", ["12345678", "password", "short", "chika123"])
def test_joining_with_a_weak_password_is_refused_and_leaves_link_open(
    member, invite, password
):
    invitation, token = invite(member)

    with pytest.raises(ValidationError):
        actions.join_with_invitation(token=token, nickname="chika", password=password)

    assert not Member.objects.filter(nickname="chika").exists()
    invitation.refresh_from_db()
    assert invitation.status == "open"


def test_joining_with_an_invisible_nickname_is_refused(member, invite):
    invitation, token = invite(member)

    with pytest.raises(ValidationError):
        actions.join_with_invitation(
            token=token, nickname="chi\u200bka", password=NEW_PASSWORD
        )

    assert Member.objects.count() == 1
    invitation.refresh_from_db()
    assert invitation.status == "open"


@pytest.mark.django_db(transaction=True)
def test_two_people_racing_for_one_link_only_one_gets_in(member, monkeypatch):
    invitation, token = actions.create_invitation(inviter=member)
    # Both must have seen the link open before either claims it: the worst case.
    both_checked = threading.Barrier(2, timeout=10)
    find_open_invitation = actions.find_open_invitation

    def find_then_wait(token):
        found = find_open_invitation(token)
        both_checked.wait()
        return found

    monkeypatch.setattr(actions, "find_open_invitation", find_then_wait)
    joined, refused, unexpected = [], [], []

    def join(nickname):
        try:
            joined.append(
                actions.join_with_invitation(
                    token=token, nickname=nickname, password=NEW_PASSWORD
                )
            )
        except actions.InvitationInvalid as exc:
            refused.append(exc)
        except Exception as exc:  # reported by the assertion below
            unexpected.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=join, args=(nickname,))
        for nickname in ("chika", "daichi")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert unexpected == []
    assert len(joined) == 1
    assert len(refused) == 1
    assert Member.objects.count() == 2
    winner = Member.objects.exclude(pk=member.pk).get()
    assert winner.pk == joined[0].pk
    invitation.refresh_from_db()
    assert invitation.used_by_id == winner.pk
    assert friend_pairs() == {
        ("aiko", winner.nickname),
        (winner.nickname, "aiko"),
    }


# --- Open registration ------------------------------------------------------------


def test_registration_without_invitation_is_refused_when_closed(db, settings):
    settings.OPEN_REGISTRATION = False

    with pytest.raises(actions.ActionRefused, match="invitation-only"):
        actions.register_member(nickname="chika", password=NEW_PASSWORD)

    assert not Member.objects.exists()


def test_open_registration_creates_a_member_with_no_inviter(db, settings):
    settings.OPEN_REGISTRATION = True

    chika = actions.register_member(nickname="chika", password=NEW_PASSWORD)

    assert chika.invited_by is None
    assert chika.check_password(NEW_PASSWORD)
    assert not Friendship.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_people_registering_one_nickname_at_once_get_one_member(
    settings, monkeypatch
):
    settings.OPEN_REGISTRATION = True
    both_checked = threading.Barrier(2, timeout=10)
    check_new_member = actions._check_new_member

    def check_then_wait(nickname, password):
        checked = check_new_member(nickname, password)
        both_checked.wait()
        return checked

    monkeypatch.setattr(actions, "_check_new_member", check_then_wait)
    outcomes = []

    def register(nickname):
        try:
            actions.register_member(nickname=nickname, password=NEW_PASSWORD)
            outcomes.append("joined")
        except actions.ActionRefused as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=register, args=(nickname,))
        for nickname in ("chika", "CHIKA")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["This nickname is taken. Choose another one.", "joined"]
    assert Member.objects.count() == 1


# --- Friendships ------------------------------------------------------------------


def test_make_friends_writes_both_directions_once(member, other_member):
    actions.make_friends(member, other_member)
    actions.make_friends(other_member, member)

    assert friend_pairs() == {("aiko", "ben"), ("ben", "aiko")}
    assert Friendship.objects.count() == 2


def test_member_cannot_befriend_themselves(member):
    with pytest.raises(actions.ActionRefused):
        actions.make_friends(member, member)

    assert not Friendship.objects.exists()
