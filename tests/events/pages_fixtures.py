"""The cast of the events' pages tests (test_pages, test_calendar,
test_timezones), around the club of tests/events/conftest.py:

- aiko (organiser), owner of "Shimokita Coffee Club"; kenji, a moderator;
  ben, chika and daichi, plain members;
- eri, no member; gen, a member aiko blocked; hana, a member who blocked
  aiko; ima, banned; jun, invited; lena, who asked to join: none of these
  six sees the club's events;
- anonymous, nobody logged in.
"""

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from accounts.models import Block
from communities.models import Membership
from tests.conftest import MemberFactory, client_for

# Who may not see the club's events (each answers exactly as a missing id).
UNSEEING = ("stranger", "blocked", "blocker", "banned", "invitee", "pending")


@pytest.fixture(name="cast")
def cast_fixture(club, aiko, ben, chika, daichi):
    people = {
        "organiser": aiko,
        "member": ben,
        "chika": chika,
        "daichi": daichi,
        "moderator": MemberFactory(nickname="kenji"),
        "stranger": MemberFactory(nickname="eri"),
        "blocked": MemberFactory(nickname="gen"),
        "blocker": MemberFactory(nickname="hana"),
        "banned": MemberFactory(nickname="ima"),
        "invitee": MemberFactory(nickname="jun"),
        "pending": MemberFactory(nickname="lena"),
    }
    statuses = {
        "moderator": Membership.Status.ACTIVE,
        "blocked": Membership.Status.ACTIVE,
        "blocker": Membership.Status.ACTIVE,
        "banned": Membership.Status.BANNED,
        "invitee": Membership.Status.INVITED,
        "pending": Membership.Status.PENDING,
    }
    for role, status in statuses.items():
        Membership.objects.create(
            community=club,
            member=people[role],
            status=status,
            role=(
                Membership.Role.MODERATOR
                if role == "moderator"
                else Membership.Role.MEMBER
            ),
        )
    Block.objects.create(blocker=aiko, blocked=people["blocked"])
    Block.objects.create(blocker=people["blocker"], blocked=aiko)
    return people


@pytest.fixture(name="clients")
def clients_fixture(cast):
    """A logged-in client per role of `cast`, and `anonymous`."""
    found = {role: client_for(member) for role, member in cast.items()}
    found["anonymous"] = Client()
    return found


def to_login(response) -> bool:
    return response.status_code == 302 and "/accounts/login/" in response["Location"]


class _Labels(HTMLParser):
    """Every <label>'s text, by the id of the control it names (by its `for`,
    or the control inside it)."""

    def __init__(self):
        super().__init__()
        self.labels: dict[str, str] = {}
        self.controls: dict[str, dict] = {}
        self._in_label = False
        self._for = None
        self._text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self._in_label = True
            self._for = attrs.get("for")
            self._text = []
        if tag in ("input", "select", "textarea") and attrs.get("id"):
            self.controls[attrs["id"]] = {"tag": tag, **attrs}
            if self._in_label and self._for is None:
                self._for = attrs["id"]

    def handle_data(self, data):
        if self._in_label:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "label" and self._in_label:
            if self._for is not None:
                self.labels[self._for] = " ".join("".join(self._text).split())
            self._in_label = False
            self._for = None


def labelled_controls(html: str) -> dict[str, dict]:
    """The page's labelled controls, by their label's text."""
    parser = _Labels()
    parser.feed(html)
    return {
        text: parser.controls[for_id]
        for for_id, text in parser.labels.items()
        if for_id in parser.controls
    }


def links_named(html: str, name: str) -> list[str]:
    """The href of every link whose whole text (its accessible name) is
    `name`."""
    found = []
    for href, text in re.findall(r'<a\b[^>]*href="([^"]*)"[^>]*>(.*?)</a>', html, re.S):
        if " ".join(re.sub(r"<[^>]+>", "", text).split()) == name:
            found.append(href)
    return found
