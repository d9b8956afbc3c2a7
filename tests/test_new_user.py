"""Issue 6, section 7: what a new user ran into, on a desktop in English and a
360 px phone in Japanese. The browser half is tests/e2e/test_invitation_link.py."""

import re

import pytest
from django.test import Client

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
