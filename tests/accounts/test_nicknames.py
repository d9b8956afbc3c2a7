"""What a nickname may be, when two are the same, and logging in by nickname."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client

from accounts import nicknames
from accounts.models import Member
from tests.accounts.helpers import logged_in_member_id, refusal_code
from tests.conftest import PASSWORD

LOGIN_URL = "/accounts/login/"


# --- What a nickname may be -----------------------------------------------------


@pytest.mark.parametrize(
    "nickname",
    ["a", "x" * 30, "さくら", "山田 花子", "Ben_99", "ちか-chan", "Zoë", "さ" * 30],
)
def test_nickname_of_one_to_thirty_ordinary_characters_is_accepted(nickname):
    nicknames.validate_nickname(nickname)


@pytest.mark.parametrize("nickname", ["x" * 31, "さ" * 31])
def test_nickname_longer_than_thirty_characters_is_refused(nickname):
    assert refusal_code(nickname) == "too_long"


def test_nickname_length_is_counted_after_normalisation():
    # "㍻" is one character that NFKC turns into two ("平成").
    assert len(nicknames.normalize("㍻" * 16)) == 32
    assert refusal_code("㍻" * 16) == "too_long"


@pytest.mark.parametrize("nickname", ["", "   ", "\u3000"])
def test_empty_or_blank_nickname_is_refused(nickname):
    assert refusal_code(nickname) == "empty"


@pytest.mark.parametrize(
    "char",
    [
        "\x00",  # NUL
        "\x07",  # bell
        "\x7f",  # delete
        "\u0085",  # next line (C1 control)
        "\u00ad",  # soft hyphen
        "\u200b",  # zero-width space
        "\u200c",  # zero-width non-joiner
        "\u200d",  # zero-width joiner
        "\u2060",  # word joiner
        "\ufeff",  # byte order mark
        "\u202e",  # right-to-left override
        "\u2066",  # left-to-right isolate
        "\u061c",  # Arabic letter mark
        "\u2028",  # line separator
        "\u2029",  # paragraph separator
        "\ue000",  # private use
        "\u3164",  # Hangul filler
        "\uffa0",  # half-width Hangul filler
        "\u115f",  # Hangul choseong filler
        "\u1160",  # Hangul jungseong filler
        "\u2800",  # Braille blank
    ],
)
def test_control_zero_width_bidi_and_filler_characters_are_refused(char):
    assert refusal_code(f"ai{char}ko") == "invisible"


@pytest.mark.parametrize("nickname", ["ai\tko", "ai\nko", "ai\rko"])
def test_tabs_and_line_breaks_are_refused(nickname):
    assert refusal_code(nickname) in {"invisible", "space"}


def test_space_that_nfkc_does_not_fold_is_refused():
    # U+1680 OGHAM SPACE MARK is a space NFKC keeps as it is.
    assert nicknames.normalize("ai\u1680ko") == "ai\u1680ko"
    assert refusal_code("ai\u1680ko") == "space"


def test_wide_space_is_stored_as_a_plain_space():
    nicknames.validate_nickname("ai\u2003ko")
    assert nicknames.normalize("ai\u2003ko") == "ai ko"


def test_two_spaces_in_a_row_are_refused():
    assert refusal_code("ai  ko") == "spaces"


@pytest.mark.parametrize("nickname", ["ai/ko", "@aiko", "aiko@", "ai／ko", "＠aiko"])
def test_slash_and_at_sign_are_refused_even_in_full_width(nickname):
    assert refusal_code(nickname) == "reserved_char"


def test_two_nicknames_are_the_same_after_nfkc_and_case_folding():
    assert nicknames.nickname_key("ＡＩＫＯ") == nicknames.nickname_key("aiko")
    assert nicknames.nickname_key("Straße") == nicknames.nickname_key("STRASSE")
    assert nicknames.nickname_key("aiko") != nicknames.nickname_key("aiko2")


# --- Member.save and create_user -----------------------------------------------


def test_member_is_stored_with_nfkc_nickname_and_casefolded_key(member_factory):
    member = member_factory(nickname=" Ａｉｋｏ ")

    member.refresh_from_db()
    assert member.nickname == "Aiko"
    assert member.nickname_key == "aiko"


def test_full_width_nickname_clashes_with_its_ascii_twin(member):
    with pytest.raises(ValidationError) as info:
        Member.objects.create_user("ＡＩＫＯ", PASSWORD)

    assert info.value.code == "taken"
    assert list(Member.objects.values_list("nickname", flat=True)) == ["aiko"]


def test_nickname_in_another_case_clashes(member):
    with pytest.raises(ValidationError) as info:
        Member.objects.create_user("Aiko", PASSWORD)

    assert info.value.code == "taken"
    assert Member.objects.count() == 1


@pytest.mark.parametrize("twin", ["ＡＩＫＯ", "Aiko"])
def test_database_refuses_a_twin_that_skips_the_checks(member, twin):
    # The unique key column settles what a race past create_user's check would.
    with pytest.raises(IntegrityError), transaction.atomic():
        Member(nickname=twin).save()

    assert Member.objects.count() == 1


def test_japanese_nickname_is_a_member_of_its_own(member_factory):
    member_factory(nickname="さくら")
    member_factory(nickname="サクラ")

    assert set(Member.objects.values_list("nickname", flat=True)) == {
        "さくら",
        "サクラ",
    }


def test_create_user_refuses_an_invisible_nickname_and_stores_nothing(db):
    with pytest.raises(ValidationError):
        Member.objects.create_user("ai\u200bko", PASSWORD)

    assert not Member.objects.exists()


def test_member_model_validation_refuses_a_slash(db):
    member = Member(nickname="ai/ko")
    member.set_password(PASSWORD)

    with pytest.raises(ValidationError) as info:
        member.full_clean()
    assert "nickname" in info.value.message_dict


# --- Logging in by nickname ------------------------------------------------------


def log_in(client: Client, login: str, password: str = PASSWORD):
    return client.post(LOGIN_URL, {"login": login, "password": password})


@pytest.mark.parametrize(
    "typed", ["aiko", "AIKO", "Aiko", "ＡＩＫＯ", "ａｉｋｏ", " aiko "]
)
def test_member_logs_in_with_nickname_in_any_case_or_width(member, client, typed):
    response = log_in(client, typed)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in_member_id(client) == member.pk


@pytest.mark.parametrize(
    ("nickname", "typed"),
    [("Zoë", "ZOË"), ("straße", "STRASSE"), ("Σοφία", "ΣΟΦΊΑ"), ("ｶﾀｶﾅ", "カタカナ")],
)
def test_member_logs_in_with_non_ascii_nickname_compared_as_nicknames_are(
    member_factory, client, nickname, typed
):
    # The database's own case-insensitive match knows ASCII only (SQLite) or
    # no case folding (ß/SS); the login form must compare as nicknames do.
    named = member_factory(nickname=nickname)

    log_in(client, typed)

    assert logged_in_member_id(client) == named.pk


def test_member_with_japanese_nickname_logs_in(member_factory, client):
    sakura = member_factory(nickname="さくら")

    log_in(client, "さくら")

    assert logged_in_member_id(client) == sakura.pk


def test_logged_in_member_is_welcomed_on_home_page(member, client):
    log_in(client, "ＡＩＫＯ")

    response = client.get("/")
    assert response.status_code == 200
    assert "Welcome, aiko" in response.text


def test_wrong_password_is_refused(member, client):
    response = log_in(client, "aiko", "not-the-password")

    assert response.status_code == 200
    assert "not correct" in response.text
    assert logged_in_member_id(client) is None


def test_unknown_nickname_is_refused(member, client):
    response = log_in(client, "nobody")

    assert response.status_code == 200
    assert "not correct" in response.text
    assert logged_in_member_id(client) is None


def test_inactive_member_cannot_log_in(member_factory, client):
    member_factory(nickname="gone", is_active=False)

    log_in(client, "gone")

    assert logged_in_member_id(client) is None


def test_four_failed_logins_still_let_the_member_in(member, client):
    for _ in range(4):
        log_in(client, "aiko", "wrong-password")

    log_in(client, "aiko")

    assert logged_in_member_id(client) == member.pk


def test_repeated_failed_logins_lock_the_nickname_even_with_right_password(
    member, client
):
    # Five failures per nickname in five minutes (ACCOUNT_RATE_LIMITS), typed in
    # different widths and cases: they all count against the same nickname.
    for typed in ["aiko", "AIKO", "ＡＩＫＯ", "Aiko", "ａｉｋｏ"]:
        log_in(client, typed, "wrong-password")

    response = log_in(client, "aiko")

    assert "Too many failed login attempts" in response.text
    assert logged_in_member_id(client) is None


def test_locked_nickname_does_not_lock_out_another_member(member, other_member, client):
    for _ in range(5):
        log_in(client, "aiko", "wrong-password")

    log_in(client, "ben")

    assert logged_in_member_id(client) == other_member.pk


def test_many_failed_logins_from_one_address_lock_that_address(member_factory, client):
    members = [member_factory(nickname=f"try{i}") for i in range(4)]
    # Ten failures a minute per IP, spread over nicknames so no single one locks.
    for i in range(10):
        log_in(client, f"try{i % 3}", "wrong-password")

    response = log_in(client, "try3")

    assert "Too many failed login attempts" in response.text
    assert logged_in_member_id(client) is None
    members[3].refresh_from_db()
    assert members[3].last_login is None


def test_login_page_asks_for_nickname_and_password(client):
    response = client.get(LOGIN_URL)

    assert response.status_code == 200
    assert '<label for="id_login">Nickname</label>' in response.text
    assert '<label for="id_password">Password</label>' in response.text
    assert ">Log in</button>" in response.text
