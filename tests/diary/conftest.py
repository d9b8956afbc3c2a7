"""The cast of the diary tests, around aiko, the author:

- ben, her friend; eri, ben's friend only (a friend of a friend of aiko);
- fumi, who knows nobody (another member);
- gen, a friend of ben whom aiko blocked; hana, a friend of ben who blocked
  aiko. Neither sees anything of aiko's, nor aiko anything of theirs.
"""

import pytest

from accounts.actions import make_friends
from accounts.models import Block
from diary.models import Entry
from tests.conftest import MemberFactory, client_for

VIEWERS = ("owner", "friend", "fof", "other", "blocked", "blocker")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def cast(db):
    names = {
        "owner": "aiko",
        "friend": "ben",
        "fof": "eri",
        "other": "fumi",
        "blocked": "gen",
        "blocker": "hana",
    }
    people = {role: MemberFactory(nickname=name) for role, name in names.items()}
    make_friends(people["owner"], people["friend"])
    make_friends(people["friend"], people["fof"])
    make_friends(people["friend"], people["blocked"])
    make_friends(people["friend"], people["blocker"])
    Block.objects.create(blocker=people["owner"], blocked=people["blocked"])
    Block.objects.create(blocker=people["blocker"], blocked=people["owner"])
    return people


@pytest.fixture
def clients(cast):
    """A logged-in client per role, and `anonymous`."""
    from django.test import Client

    found = {role: client_for(member) for role, member in cast.items()}
    found["anonymous"] = Client()
    return found


def make_entry(author, audience="friends", title="A day", body="Sunny."):
    return Entry.objects.create(
        author=author, title=title, body=body, audience=audience
    )


# The live sockets' fixtures of the chat tests (a fresh layer per test, the
# Redis pub/sub layer as settings build it, tabs through the real application).
from tests.chat.conftest import live_layer, open_tab, redis_layer  # noqa: E402, F401
