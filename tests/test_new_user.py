"""Issue 6, section 7: what a new user ran into, on a desktop in English and a
360 px phone in Japanese. The browser half is tests/e2e/test_invitation_link.py."""

import re

import pytest
from django.test import Client

from accounts import actions
from accounts.models import Member
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- A wrong password speaks of the nickname, as every other screen does ------


@pytest.mark.parametrize(
    ("language", "said", "not_said"),
    [
        ("en", "The nickname or password is not correct.", "username"),
        ("ja", "ニックネームまたはパスワードが正しくありません。", "ユーザー名"),
    ],
)
def test_wrong_password_says_nickname_not_username(aiko, language, said, not_said):
    response = Client(HTTP_ACCEPT_LANGUAGE=language).post(
        "/accounts/login/", {"login": "aiko", "password": PASSWORD + "x"}
    )
    alert = re.search(r'<div role="alert">(.*?)</div>', response.content.decode(), re.S)
    assert alert, "the login form shows no error"
    assert said in alert[1]
    assert not_said not in alert[1].lower()


def test_unknown_nickname_gets_the_same_answer_as_a_wrong_password(aiko):
    wrong_password = Client().post(
        "/accounts/login/", {"login": "aiko", "password": "nope-" + PASSWORD}
    )
    unknown = Client().post(
        "/accounts/login/", {"login": "nobody", "password": "nope-" + PASSWORD}
    )
    message = "The nickname or password is not correct."
    assert message in wrong_password.content.decode()
    assert message in unknown.content.decode()


# --- One nickname limit: the join form's field, its validator and the model ---

NEW_PASSWORD = "plum-blossom-lantern-42"


def _join(client, token, nickname):
    return client.post(
        f"/join/{token}/",
        {"nickname": nickname, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )


def test_join_form_lets_a_person_type_only_as_many_characters_as_a_nickname_has(
    aiko,
):
    _invitation, token = actions.create_invitation(inviter=aiko)
    html = Client().get(f"/join/{token}/").content.decode()

    field = re.search(r'<input[^>]*name="nickname"[^>]*>', html)[0]
    limit = Member._meta.get_field("nickname").max_length
    assert limit == 30
    assert f'maxlength="{limit}"' in field


def test_a_nickname_one_character_too_long_gets_one_clear_error_and_no_member(aiko):
    _invitation, token = actions.create_invitation(inviter=aiko)

    response = _join(Client(), token, "n" * 31)

    assert response.status_code == 200
    errors = re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>', response.text, re.S)
    assert len(errors) == 1
    assert "A nickname has at most 30 characters." in errors[0]
    assert not Member.objects.filter(nickname__startswith="nnn").exists()


def test_a_nickname_of_exactly_the_limit_joins(aiko):
    _invitation, token = actions.create_invitation(inviter=aiko)

    response = _join(Client(), token, "n" * 30)

    assert response.status_code == 302
    assert Member.objects.filter(nickname="n" * 30).exists()
