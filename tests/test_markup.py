"""Every page with a form is well-formed HTML, empty and with its errors shown.

A browser repairs broken markup silently, and the repair changes the page:
`{{ field.errors }}` (a <ul>) inside a <p> closes the <p> early and leaves an
orphan </p>; a list of password rules inside a <span> is moved out of it, so the
element the input's aria-describedby names is empty and a screen reader reads
no description. html-validate calls these no-implicit-close and close-order.
This check parses each page with Python's html.parser and reports the same
class of fault: an end tag that does not close the element open at that point,
a start tag that would close an open <p>, block content inside an element that
holds phrasing content only, an element left open, a duplicate id, and an
aria-describedby or label that names no element.
"""

from html.parser import HTMLParser

import pytest
from django.test import Client

from accounts.actions import create_invitation, make_friends
from tests.conftest import client_for
from tests.factories import TopicFactory, coffee_club

pytestmark = pytest.mark.django_db

VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
    "source", "track", "wbr",
}  # fmt: skip
# Start tags that close an open <p> (HTML: where a <p>'s end tag may be left out).
BLOCK = {
    "address", "article", "aside", "blockquote", "details", "dialog", "div", "dl",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hgroup", "hr", "main", "menu", "nav", "ol", "p", "pre",
    "section", "table", "ul",
}  # fmt: skip
# Elements whose content model is phrasing content only.
PHRASING_ONLY = {
    "b", "button", "em", "h1", "h2", "h3", "h4", "h5", "h6", "i", "label",
    "legend", "p", "small", "span", "strong", "time",
}  # fmt: skip


class Element:
    def __init__(self, tag, attrs, parent=None):
        self.tag = tag
        self.attrs = dict(attrs)
        self.parent = parent
        self.children = []
        self.text = []

    def all_text(self) -> str:
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


class MarkupCheck(HTMLParser):
    """A page's element tree and every fault found while building it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", [])
        self.open = [self.root]
        self.faults = []

    def fault(self, text):
        self.faults.append(f"line {self.getpos()[0]}: {text}")

    def handle_starttag(self, tag, attrs):
        parent = self.open[-1]
        if tag in BLOCK and any(e.tag == "p" for e in self.open):
            self.fault(f"<{tag}> inside <p> (closes it early: no-implicit-close)")
        elif tag in BLOCK and parent.tag in PHRASING_ONLY:
            self.fault(f"<{tag}> inside <{parent.tag}>, which holds phrasing only")
        element = Element(tag, attrs, parent)
        parent.children.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.open.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        current = self.open[-1]
        if current.tag == tag:
            self.open.pop()
            return
        self.fault(f"</{tag}> while <{current.tag}> is open (close-order)")
        if any(e.tag == tag for e in self.open):
            while self.open[-1].tag != tag:
                self.open.pop()
            self.open.pop()

    def handle_data(self, data):
        self.open[-1].text.append(data)

    def close(self):
        super().close()
        for element in self.open[1:]:
            self.fault(f"<{element.tag}> never closed")
        ids = {}
        for element in self.root.walk():
            if "id" in element.attrs:
                if element.attrs["id"] in ids:
                    self.fault(f"duplicate id {element.attrs['id']!r}")
                ids[element.attrs["id"]] = element
        for element in self.root.walk():
            # (An empty one is fine: the composer's error box, say, until it
            # has something to say.)
            for name in element.attrs.get("aria-describedby", "").split():
                if name not in ids:
                    self.fault(f"<{element.tag}> aria-describedby={name!r}: no such id")
            label_for = element.attrs.get("for") if element.tag == "label" else None
            if label_for and label_for not in ids:
                self.fault(f"<label for={label_for!r}> names nothing")
        self.ids = ids


def check(html: str) -> MarkupCheck:
    parser = MarkupCheck()
    parser.feed(html)
    parser.close()
    return parser


def test_the_check_finds_what_html_validate_reports():
    # The control: each fault this module exists for, found in a small page.
    faults = check(
        "<p><label for=x>Name</label><input id=x>"
        '<ul class="errorlist"><li>Required.</li></ul></p>'
        '<span id="h"><ul><li>rule</li></ul></span>'
        "<div><span></div></span>"
        '<input aria-describedby="nowhere"><label for="y">Y</label>'
        '<div id="h"></div><div>'
    ).faults
    assert [f.split(": ", 1)[1] for f in faults] == [
        "<ul> inside <p> (closes it early: no-implicit-close)",
        "<ul> inside <span>, which holds phrasing only",
        "</div> while <span> is open (close-order)",
        "</span> while <#document> is open (close-order)",
        "<div> never closed",
        "duplicate id 'h'",
        "<input> aria-describedby='nowhere': no such id",
        "<label for='y'> names nothing",
    ]
    assert check('<div class="field"><p>ok</p><span>fine</span></div>').faults == []


@pytest.fixture
def site(aiko, ben, chika):
    make_friends(aiko, ben)
    community = coffee_club(aiko, ben)
    topic = TopicFactory(community=community, title="Beans", created_by=aiko)
    _invitation, token = create_invitation(inviter=aiko)
    return community, topic, token


def requests(community, topic, token):
    """(who, method, path, data): every page with a form, as it first shows and
    with the errors of a bad submission."""
    c, t = community.pk, topic.pk
    bad_password = {"oldpassword": "wrong", "password1": "1", "password2": "2"}
    return [
        (None, "get", "/accounts/login/", None),
        (None, "post", "/accounts/login/", {"login": "aiko", "password": "wrong"}),
        (None, "get", f"/join/{token}/", None),
        (None, "post", f"/join/{token}/", {"nickname": "", "password1": "1"}),
        (None, "get", "/accounts/password/reset/", None),
        ("aiko", "get", "/", None),
        ("aiko", "get", "/communities/?q=coffee", None),
        ("aiko", "get", "/communities/mine/", None),
        ("aiko", "get", "/communities/new/", None),
        ("aiko", "post", "/communities/new/", {"name": ""}),
        ("aiko", "get", f"/communities/{c}/", None),
        ("aiko", "get", f"/communities/{c}/edit/", None),
        ("aiko", "post", f"/communities/{c}/edit/", {"name": ""}),
        ("aiko", "get", f"/communities/{c}/members/", None),
        ("aiko", "get", f"/communities/{c}/topics/new/", None),
        ("aiko", "post", f"/communities/{c}/topics/new/", {"client_id": "x"}),
        ("aiko", "get", f"/topics/{t}/", None),
        ("aiko", "get", "/invitations/", None),
        ("aiko", "post", "/invitations/", {"note": "n" * 101}),
        ("aiko", "get", "/friends/", None),
        ("aiko", "get", "/members/aiko/", None),
        ("aiko", "get", "/settings/profile/", None),
        ("aiko", "post", "/settings/profile/", {"introduction": "i" * 2001}),
        ("aiko", "get", "/accounts/password/change/", None),
        ("aiko", "post", "/accounts/password/change/", bad_password),
        ("aiko", "get", "/notifications/", None),
        ("ben", "get", f"/communities/{c}/", None),
        ("chika", "get", f"/communities/{c}/", None),
    ]


def test_every_page_with_a_form_is_well_formed_with_and_without_errors(
    site, aiko, ben, chika
):
    clients = {"aiko": client_for(aiko), "ben": client_for(ben), "chika": None}
    clients["chika"] = client_for(chika)
    faults = {}
    for who, method, path, data in requests(*site):
        client = clients[who] if who else Client()
        response = getattr(client, method)(path, data or {})
        assert response.status_code == 200, (who, method, path, response.status_code)
        if method == "post":
            assert b'class="errorlist' in response.content, (who, path)
        found = check(response.content.decode()).faults
        if found:
            faults[f"{who or 'visitor'} {method.upper()} {path}"] = found
    assert not faults, "\n".join(f"{k}: {v}" for k, v in faults.items())


def test_password_rules_are_the_new_passwords_description(aiko):
    page = check(client_for(aiko).get("/accounts/password/change/").content.decode())
    field = page.ids["id_password1"]

    described_by = field.attrs["aria-describedby"].split()
    assert described_by == ["id_password1_helptext"]
    rules = page.ids["id_password1_helptext"]
    assert rules.tag == "div"
    items = [li.all_text() for li in rules.walk() if li.tag == "li"]
    assert len(items) == 4, items
    assert "at least 8 characters" in " ".join(items)
    assert page.faults == []


def test_errors_join_the_description_of_the_field_they_are_about(aiko):
    response = client_for(aiko).post(
        "/accounts/password/change/",
        {"oldpassword": "wrong", "password1": "1", "password2": "1"},
    )
    page = check(response.content.decode())
    field = page.ids["id_password1"]

    assert field.attrs["aria-describedby"].split() == [
        "id_password1_helptext",
        "id_password1_error",
    ]
    assert field.attrs["aria-invalid"] == "true"
    assert "too short" in page.ids["id_password1_error"].all_text()
    assert page.faults == []
