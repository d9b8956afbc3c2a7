"""Pages of the accounts app, through the Django test client: who may see what."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from accounts import actions
from accounts.models import Friendship, Invitation, Member
from tests.accounts.helpers import logged_in_member_id, token_from
from tests.conftest import PASSWORD

NEW_PASSWORD = "kumo-no-ue-de-odoru"


def join_data(nickname="chika", password1=NEW_PASSWORD, password2=None):
    return {
        "nickname": nickname,
        "password1": password1,
        "password2": password1 if password2 is None else password2,
    }


def jpeg_bytes(size=(64, 64), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG")
    return out.getvalue()


def give_avatar(member):
    actions.update_profile(
        member=member,
        introduction=member.introduction,
        avatar=SimpleUploadedFile("me.jpg", jpeg_bytes(), "image/jpeg"),
    )
    member.refresh_from_db()
    return member


# --- Anonymous visitors ---------------------------------------------------------

MEMBERS_ONLY = [
    "/",
    "/members/aiko/",
    "/members/aiko/avatar/",
    "/friends/",
    "/invitations/",
    "/settings/profile/",
    "/communities/",
    "/notifications/",
]


@pytest.mark.parametrize("path", MEMBERS_ONLY)
def test_anonymous_visitor_is_sent_to_login(member, client, path):
    give_avatar(member)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_anonymous_visitor_cannot_revoke_an_invitation(member, client, invite):
    invitation, _token = invite(member)

    response = client.post(f"/invitations/{invitation.pk}/revoke/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_anonymous_visitor_cannot_create_an_invitation(member, client):
    response = client.post("/invitations/", {"note": "sneaky"})

    assert response.status_code == 302
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/password/reset/"])
def test_login_pages_are_open_to_anonymous_visitors(client, path):
    assert client.get(path).status_code == 200


def test_join_page_is_open_to_anonymous_visitors(member, client, invite):
    _invitation, token = invite(member)

    assert client.get(f"/join/{token}/").status_code == 200


def test_signup_page_sends_anonymous_visitors_to_join(client):
    response = client.get("/accounts/signup/")

    assert response.status_code == 302
    assert response["Location"] == "/join/"


def test_login_page_has_nickname_and_password_labels_and_log_in_button(client):
    response = client.get("/accounts/login/")

    assert '<label for="id_login">Nickname</label>' in response.text
    assert '<label for="id_password">Password</label>' in response.text
    assert '<button type="submit" class="primary">Log in</button>' in response.text


# --- Home and member pages -----------------------------------------------------------


def test_home_page_welcomes_member_by_nickname_and_lists_friends(
    member, other_member, member_client
):
    actions.make_friends(member, other_member)

    response = member_client.get("/")

    assert response.status_code == 200
    assert "Welcome, aiko" in response.text
    assert 'href="/members/ben/"' in response.text


def test_member_page_shows_nickname_introduction_and_friend_count(
    member, other_member, member_factory, member_client
):
    other_member.introduction = "Visiting Tokyo from Melbourne."
    other_member.save()
    actions.make_friends(other_member, member)
    actions.make_friends(other_member, member_factory(nickname="chika"))

    response = member_client.get("/members/ben/")

    assert response.status_code == 200
    assert "<h1>ben</h1>" in response.text
    assert "Visiting Tokyo from Melbourne." in response.text
    assert "2 friends" in response.text
    assert "Your friend" in response.text


def test_member_page_of_a_stranger_says_one_friend_and_not_your_friend(
    other_member, member_factory, member_client
):
    actions.make_friends(other_member, member_factory(nickname="chika"))

    response = member_client.get("/members/ben/")

    assert "1 friend" in response.text
    assert "2 friends" not in response.text
    assert "Your friend" not in response.text


def test_member_page_is_found_by_nickname_in_another_width(other_member, member_client):
    response = member_client.get("/members/ＢＥＮ/")

    assert response.status_code == 200
    assert response.context["member"] == other_member


def test_member_page_escapes_the_introduction(other_member, member_client):
    other_member.introduction = "<script>alert(1)</script>"
    other_member.introduction_audience = "members"
    other_member.save()

    response = member_client.get("/members/ben/")

    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_unknown_member_page_is_not_found(member_client):
    assert member_client.get("/members/nobody/").status_code == 404


def test_inactive_member_page_is_not_found(member_factory, member_client):
    member_factory(nickname="gone", is_active=False)

    assert member_client.get("/members/gone/").status_code == 404


def test_avatar_is_served_to_a_logged_in_member(other_member, member_client):
    give_avatar(other_member)

    response = member_client.get("/members/ben/avatar/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, max-age=3600"
    with other_member.avatar.open("rb") as stored:
        assert b"".join(response.streaming_content) == stored.read()


def test_avatar_is_not_served_to_an_anonymous_visitor(other_member, client):
    give_avatar(other_member)

    response = client.get("/members/ben/avatar/")

    assert response.status_code == 302
    assert not getattr(response, "streaming", False)


def test_member_without_avatar_has_no_avatar_to_serve(other_member, member_client):
    assert member_client.get("/members/ben/avatar/").status_code == 404


def test_inactive_members_avatar_is_not_served(other_member, member_client):
    give_avatar(other_member)
    other_member.is_active = False
    other_member.save()

    assert member_client.get("/members/ben/avatar/").status_code == 404


# --- Friend list -------------------------------------------------------------------


def test_friend_list_shows_my_friends_only_in_nickname_order(
    member, other_member, member_factory, member_client
):
    chika = member_factory(nickname="Chika")
    daichi = member_factory(nickname="daichi")
    actions.make_friends(member, daichi)
    actions.make_friends(member, chika)
    actions.make_friends(other_member, member_factory(nickname="eri"))

    response = member_client.get("/friends/")

    friends = [f.friend for f in response.context["page"].object_list]
    assert friends == [chika, daichi]
    assert "eri" not in response.text


def test_friend_list_query_count_stays_flat_as_friends_grow(
    member, member_factory, member_client, django_assert_num_queries
):
    def add_friends(count):
        for _ in range(count):
            actions.make_friends(member, give_avatar(member_factory()))

    add_friends(3)
    # session, member, count of friendships, one page of friendships + friends,
    # the navigation's counts (friend requests, notifications, footprints, reports)
    with django_assert_num_queries(8):
        small = member_client.get("/friends/")
    add_friends(27)
    with django_assert_num_queries(8):
        large = member_client.get("/friends/")

    assert small.text.count('class="avatar avatar-small"') == 3
    assert large.text.count('class="avatar avatar-small"') == 30


# --- Invitations page -----------------------------------------------------------------


def test_creating_an_invitation_shows_a_working_link_once(member, member_client):
    response = member_client.post("/invitations/", {"note": "for chika"})

    assert response.status_code == 200
    token = token_from(response.text)
    assert Invitation.objects.get(inviter=member).token_hash == (
        Invitation.hash_token(token)
    )
    assert f"http://testserver/join/{token}/" in response.text
    assert token not in member_client.get("/invitations/").text
    join_page = Client().get(f"/join/{token}/")
    assert join_page.status_code == 200
    assert "aiko invited you" in join_page.text


def test_eleventh_open_invitation_is_refused_with_a_clear_error(
    member, member_client, invite
):
    for _ in range(10):
        invite(member)

    response = member_client.post("/invitations/", {"note": "one too many"})

    assert response.status_code == 200
    assert "You already have 10 open invitations." in response.text
    assert "/join/" not in response.text
    assert Invitation.objects.created_by(member).count() == 10
    assert not Invitation.objects.filter(note="one too many").exists()


def test_invitation_list_never_shows_another_members_invitations(
    member, other_member, member_client, invite
):
    mine, _token = invite(member, note="for chika")
    theirs, _token = invite(other_member, note="for bens cousin")

    response = member_client.get("/invitations/")

    assert "for chika" in response.text
    assert f"/invitations/{mine.pk}/revoke/" in response.text
    assert "for bens cousin" not in response.text
    assert f"/invitations/{theirs.pk}/revoke/" not in response.text
    assert list(response.context["page"].object_list) == [mine]


def test_invitation_list_shows_who_joined_with_a_used_invitation(
    member, member_client, invite
):
    _invitation, token = invite(member)
    actions.join_with_invitation(token=token, nickname="chika", password=NEW_PASSWORD)

    response = member_client.get("/invitations/")

    assert 'href="/members/chika/"' in response.text
    assert "Used" in response.text


def test_invitation_list_query_count_stays_flat_as_invitations_grow(
    member, member_client, invite, django_assert_num_queries
):
    def add_used_invitations(count, start):
        for i in range(start, start + count):
            _invitation, token = invite(member)
            actions.join_with_invitation(
                token=token, nickname=f"guest{i}", password=NEW_PASSWORD
            )

    add_used_invitations(3, 0)
    # session, member, count of invitations, one page of invitations + invitees,
    # the navigation's counts (friend requests, notifications, footprints, reports)
    with django_assert_num_queries(8):
        small = member_client.get("/invitations/")
    add_used_invitations(27, 3)
    with django_assert_num_queries(8):
        large = member_client.get("/invitations/")

    assert small.text.count('href="/members/guest') == 3
    assert large.text.count('href="/members/guest') == 20  # one page


def test_member_revokes_own_invitation_and_its_link_stops_working(
    member, member_client, invite
):
    invitation, token = invite(member)

    response = member_client.post(f"/invitations/{invitation.pk}/revoke/", follow=True)

    assert response.redirect_chain == [("/invitations/", 302)]
    assert "The invitation was revoked" in response.text
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert Client().get(f"/join/{token}/").status_code == 410


def test_revoking_needs_a_post(member, member_client, invite):
    invitation, _token = invite(member)

    response = member_client.get(f"/invitations/{invitation.pk}/revoke/")

    assert response.status_code == 405
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_revoking_someone_elses_invitation_is_refused_and_changes_nothing(
    other_member, member_client, invite
):
    invitation, token = invite(other_member)

    response = member_client.post(f"/invitations/{invitation.pk}/revoke/", follow=True)

    assert "This invitation does not exist." in response.text
    assert "The invitation was revoked" not in response.text
    invitation.refresh_from_db()
    assert invitation.revoked_at is None
    assert Client().get(f"/join/{token}/").status_code == 200


# --- Joining ----------------------------------------------------------------------


def test_join_page_asks_for_nickname_and_password_twice(member, client, invite):
    _invitation, token = invite(member)

    response = client.get(f"/join/{token}/")

    assert response.status_code == 200
    assert '<label for="id_nickname">Nickname</label>' in response.text
    assert '<label for="id_password1">Password</label>' in response.text
    assert '<label for="id_password2">Password (again)</label>' in response.text
    assert '<button type="submit" class="primary">Join</button>' in response.text
    assert "aiko invited you" in response.text


def test_joining_creates_member_logs_them_in_and_befriends_inviter(
    member, client, invite
):
    invitation, token = invite(member)

    response = client.post(f"/join/{token}/", join_data("chika"))

    assert response.status_code == 302
    assert response["Location"] == "/"
    chika = Member.objects.get(nickname="chika")
    assert chika.check_password(NEW_PASSWORD)
    assert chika.invited_by == member
    assert logged_in_member_id(client) == chika.pk
    assert Friendship.objects.filter(member=member, friend=chika).exists()
    assert Friendship.objects.filter(member=chika, friend=member).exists()
    invitation.refresh_from_db()
    assert invitation.used_by == chika
    assert invitation.used_at is not None
    home = client.get("/")
    assert "Welcome to Enishi, chika!" in home.text
    assert "Welcome, chika" in home.text


def test_joined_member_can_log_in_again_later(member, client, invite):
    _invitation, token = invite(member)
    client.post(f"/join/{token}/", join_data("chika"))
    client.post("/accounts/logout/")
    assert logged_in_member_id(client) is None

    client.post("/accounts/login/", {"login": "CHIKA", "password": NEW_PASSWORD})

    assert logged_in_member_id(client) == Member.objects.get(nickname="chika").pk


def test_unknown_invitation_link_shows_a_clear_page_and_creates_nothing(member, client):
    page = client.get("/join/not-a-real-token/")
    posted = client.post("/join/not-a-real-token/", join_data())

    for response in (page, posted):
        assert response.status_code == 404
        assert "This link cannot be used" in response.text
        assert "This invitation link is not valid." in response.text
    assert Member.objects.count() == 1


def expire(invitation, token):
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def revoke(invitation, token):
    actions.revoke_invitation(member=invitation.inviter, invitation_id=invitation.pk)


def use(invitation, token):
    actions.join_with_invitation(token=token, nickname="daichi", password=PASSWORD)


@pytest.mark.parametrize(
    ("spend", "reason"),
    [
        (expire, "This invitation has expired."),
        (revoke, "This invitation was withdrawn by the member who sent it."),
        (use, "This invitation has already been used."),
    ],
)
def test_spent_invitation_shows_a_clear_gone_page_and_creates_nothing(
    member, client, invite, spend, reason
):
    invitation, token = invite(member)
    spend(invitation, token)
    members_before = set(Member.objects.values_list("pk", flat=True))

    page = client.get(f"/join/{token}/")
    posted = client.post(f"/join/{token}/", join_data("chika"))

    for response in (page, posted):
        assert response.status_code == 410
        assert "This link cannot be used" in response.text
        assert reason in response.text
        assert '<form method="post" novalidate>' not in response.text
    assert set(Member.objects.values_list("pk", flat=True)) == members_before
    assert logged_in_member_id(client) is None


def test_used_invitation_shows_clear_page_and_creates_nothing(member, invite):
    _invitation, token = invite(member)
    first = Client()
    first.post(f"/join/{token}/", join_data("chika"))
    second = Client()

    response = second.post(f"/join/{token}/", join_data("daichi"))

    assert response.status_code == 410
    assert "already been used" in response.text
    assert not Member.objects.filter(nickname="daichi").exists()
    assert logged_in_member_id(second) is None


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        (
            join_data("chika", NEW_PASSWORD, NEW_PASSWORD + "x"),
            "password2",
            "The two passwords do not match.",
        ),
        (join_data("ＡＩＫＯ"), "nickname", "This nickname is taken."),
        (join_data("aiko "), "nickname", "This nickname is taken."),
        (join_data("chika", "12345678"), "password1", "This password is too common."),
        (join_data("chika", "kq7"), "password1", "This password is too short."),
        (join_data("ch/ka"), "nickname", "cannot contain"),
        (join_data("chi\u200bka"), "nickname", "control or invisible characters"),
        (join_data("x" * 31), "nickname", "at most 30 characters"),
        (join_data(""), "nickname", "This field is required."),
    ],
)
def test_bad_join_form_shows_error_creates_nothing_and_leaves_link_open(
    member, client, invite, data, field, error
):
    invitation, token = invite(member)

    response = client.post(f"/join/{token}/", data)

    assert response.status_code == 200
    assert error in " ".join(response.context["form"].errors[field])
    assert error in response.text.replace("&#x27;", "'")
    assert Member.objects.count() == 1
    assert not Friendship.objects.exists()
    assert logged_in_member_id(client) is None
    invitation.refresh_from_db()
    assert invitation.status == "open"
    assert client.post(f"/join/{token}/", join_data("chika")).status_code == 302


def test_logged_in_member_opening_a_link_goes_home_and_leaves_it_open(
    member, member_client, invite
):
    invitation, token = invite(member)

    response = member_client.post(f"/join/{token}/", join_data("chika"))

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not Member.objects.filter(nickname="chika").exists()
    invitation.refresh_from_db()
    assert invitation.status == "open"


def test_join_form_refuses_a_post_without_csrf_token(member, invite):
    _invitation, token = invite(member)
    client = Client(enforce_csrf_checks=True)

    response = client.post(f"/join/{token}/", join_data("chika"))

    assert response.status_code == 403
    assert not Member.objects.filter(nickname="chika").exists()


# --- Open registration ------------------------------------------------------------


def test_join_without_invitation_is_invitation_only_by_default(db, client, settings):
    settings.OPEN_REGISTRATION = False

    page = client.get("/join/")
    posted = client.post("/join/", join_data("chika"))

    for response in (page, posted):
        assert response.status_code == 404
        assert "Enishi is invitation-only. Ask a member for a link." in response.text
    assert not Member.objects.exists()


def test_open_registration_lets_anyone_join_with_no_inviter(db, client, settings):
    settings.OPEN_REGISTRATION = True

    page = client.get("/join/")
    response = client.post("/join/", join_data("chika"))

    assert page.status_code == 200
    assert '<label for="id_nickname">Nickname</label>' in page.text
    assert response.status_code == 302
    chika = Member.objects.get(nickname="chika")
    assert chika.invited_by is None
    assert logged_in_member_id(client) == chika.pk
    assert not Friendship.objects.exists()


def test_open_registration_still_refuses_a_taken_nickname(member, client, settings):
    settings.OPEN_REGISTRATION = True

    response = client.post("/join/", join_data("Aiko"))

    assert response.status_code == 200
    assert "This nickname is taken." in response.text
    assert Member.objects.count() == 1


# --- Profile ------------------------------------------------------------------------


def test_member_edits_their_self_introduction(member, member_client):
    response = member_client.post(
        "/settings/profile/", {"introduction": "  猫と珈琲。  "}, follow=True
    )

    assert response.redirect_chain == [("/members/aiko/", 302)]
    assert "Your profile was saved." in response.text
    member.refresh_from_db()
    assert member.introduction == "猫と珈琲。"
    assert "猫と珈琲。" in response.text


def test_profile_form_is_prefilled_with_current_introduction(member, member_client):
    member.introduction = "Coffee and film cameras."
    member.save()

    response = member_client.get("/settings/profile/")

    assert response.status_code == 200
    assert "Coffee and film cameras." in response.text


def test_profile_edit_changes_only_the_logged_in_member(
    member, other_member, member_client
):
    other_member.introduction = "ben's words"
    other_member.save()

    member_client.post("/settings/profile/", {"introduction": "mine"})

    other_member.refresh_from_db()
    assert other_member.introduction == "ben's words"
