"""Issue 6, section 7: what a new user ran into, on a desktop in English and a
360 px phone in Japanese. The browser half is tests/e2e/test_invitation_link.py."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils import timezone, translation

from accounts import actions
from accounts.models import Member
from project.templatetags import when
from tests.conftest import PASSWORD, client_for
from tests.factories import (
    CommunityFactory,
    MembershipFactory,
    MessageFactory,
    TopicFactory,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


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

    errors = re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>', response.text, re.S)
    assert len(errors) == 1
    assert "A nickname has at most 30 characters." in errors[0]
    assert not Member.objects.filter(nickname__startswith="nnn").exists()


def test_a_nickname_of_exactly_the_limit_joins(aiko):
    _invitation, token = actions.create_invitation(inviter=aiko)

    response = _join(Client(), token, "n" * 30)

    assert response.status_code == 302
    assert Member.objects.filter(nickname="n" * 30).exists()


# --- One date style per language, in the site's time zone -------------------

# 13:50 UTC is 22:50 in Tokyo (TIME_ZONE's default).
INSTANT = datetime(2026, 11, 30, 13, 50, tzinfo=UTC)


def _render(source: str, value, language: str) -> str:
    with translation.override(language):
        return Template("{% load when %}" + source).render(Context({"value": value}))


@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "30 Nov 2026, 22:50"), ("ja", "2026年11月30日 22:50")],
)
def test_when_writes_the_full_date_and_time_in_the_sites_time_zone(language, text):
    html = _render("{{ value|when }}", INSTANT, language)

    assert html == (
        f'<time datetime="2026-11-30T22:50:00+09:00" title="{text}">{text}</time>'
    )


def test_when_follows_the_time_zone_setting(settings):
    settings.TIME_ZONE = "UTC"

    assert ">30 Nov 2026, 13:50</time>" in _render("{{ value|when }}", INSTANT, "en")


@pytest.mark.parametrize(
    ("language", "now", "text"),
    [
        ("en", INSTANT + timedelta(hours=1), "22:50"),
        ("ja", INSTANT + timedelta(hours=1), "22:50"),
        ("en", INSTANT + timedelta(days=3), "30 Nov, 22:50"),
        ("ja", INSTANT + timedelta(days=3), "11月30日 22:50"),
        ("en", INSTANT + timedelta(days=40), "30 Nov 2026"),
        ("ja", INSTANT + timedelta(days=40), "2026年11月30日"),
    ],
)
def test_chat_times_are_compact_today_this_year_and_before(language, now, text):
    with translation.override(language):
        assert when.compact_text(INSTANT, now=now) == text


def test_today_is_the_day_in_the_sites_time_zone():
    # 22:50 in Tokyo and 00:30 the next morning in Tokyo are different days,
    # though both are the same UTC date.
    just_after_midnight = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
    assert when.compact_text(INSTANT, now=just_after_midnight) == "30 Nov, 22:50"


def test_chat_page_writes_todays_message_time_alone_with_the_full_date_as_title(
    aiko,
):
    topic = TopicFactory(community=CommunityFactory(owner=aiko), title="Live chat")
    message = MessageFactory(topic=topic, author=aiko, body="hello")
    local = timezone.localtime(message.created_at)
    client = client_for(aiko)
    client.post("/i18n/setlang/", {"language": "ja", "next": "/"})

    html = client.get(topic.get_absolute_url()).content.decode()

    assert (
        f'<time datetime="{local.isoformat(timespec="seconds")}" '
        f'title="{local:%Y}年{local.month}月{local.day}日 {local:%H:%M}">'
        f"{local:%H:%M}</time>"
    ) in html


def test_invitation_list_writes_the_long_date_in_english(aiko):
    invitation, _token = actions.create_invitation(inviter=aiko)
    local = timezone.localtime(invitation.created_at)
    text = f"{local.day} {local:%b %Y, %H:%M}"

    html = client_for(aiko).get("/invitations/").content.decode()

    assert f'created <time datetime="{local.isoformat(timespec="seconds")}"' in html
    assert f'title="{text}">{text}</time>' in html
    assert "p.m." not in html and "a.m." not in html


def test_no_template_formats_a_date_itself():
    """Every date on a page goes through project/templatetags/when.py."""
    offenders = [
        f"{path.relative_to(TEMPLATES)}: {match[0]}"
        for path in TEMPLATES.rglob("*.html")
        for match in re.finditer(
            r"\|\s*(date|time|naturaltime|naturalday)\b.*", path.read_text()
        )
    ]
    assert not offenders, offenders


# --- A link to a topic of a community one is not in --------------------------


@pytest.fixture
def place(member_factory):
    """Makes a community of a policy with one topic and one message, and says
    what a stranger must never see of it."""

    def make(policy):
        owner = member_factory(nickname=f"owner-{policy}")
        community = CommunityFactory(
            owner=owner, name=f"Club {policy}", join_policy=policy
        )
        topic = TopicFactory(community=community, title=f"Plans {policy}")
        MessageFactory(topic=topic, author=owner, body=f"the secret word {policy}")
        return community, topic

    return make


def _missing_topic_answer(client):
    return client.get("/topics/999999/")


def _join_forms(html: str) -> list[str]:
    return re.findall(r'<form method="post" action="[^"]*/join/".*?</form>', html, re.S)


@pytest.mark.parametrize(
    ("policy", "button"), [("open", "Join to read"), ("approval", "Request to join")]
)
def test_stranger_following_a_topic_link_sees_the_community_and_the_way_in(
    place, chika, policy, button
):
    community, topic = place(policy)

    response = client_for(chika).get(topic.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 200
    assert f"<h1>{community.name}</h1>" in html
    [form] = _join_forms(html)
    assert f'action="/communities/{community.pk}/join/"' in form
    assert f'name="next" value="{topic.get_absolute_url()}"' in form
    assert f">{button}</button>" in form
    # Nothing of the topic itself: its title and messages are for members.
    assert "the secret word" not in html
    assert topic.title not in html
    assert 'ws-connect="/ws/live/"' in html  # no topic stream on this page


@pytest.mark.parametrize("policy", ["open", "approval"])
def test_joining_from_a_topic_link_comes_back_to_the_topic(place, chika, policy):
    community, topic = place(policy)
    client = client_for(chika)

    response = client.post(
        f"/communities/{community.pk}/join/", {"next": topic.get_absolute_url()}
    )

    assert response.status_code == 302
    assert response["Location"] == topic.get_absolute_url()
    page = client.get(response["Location"]).content.decode()
    if policy == "open":
        assert "the secret word open" in page
    else:
        assert "You asked to join. The moderators have not answered yet." in page
        assert "the secret word" not in page


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x"])
def test_joining_never_goes_to_another_site(place, chika, next_url):
    community, _topic = place("open")

    response = client_for(chika).post(
        f"/communities/{community.pk}/join/", {"next": next_url}
    )

    assert response["Location"] == f"/communities/{community.pk}/"


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("pending", "You asked to join. The moderators have not answered yet."),
        ("invited", "You were invited to this community."),
    ],
)
def test_a_request_or_invitation_in_progress_shows_where_it_stands(
    place, chika, status, says
):
    community, topic = place("approval")
    MembershipFactory(community=community, member=chika, status=status)

    response = client_for(chika).get(topic.get_absolute_url())

    assert response.status_code == 200
    assert says in response.content.decode()
    assert "the secret word" not in response.content.decode()


@pytest.mark.parametrize(
    ("policy", "status"),
    [
        ("secret", None),
        ("secret", "pending"),
        ("secret", "invited"),
        ("secret", "banned"),
        ("open", "banned"),
        ("approval", "banned"),
    ],
)
def test_secret_topics_and_banned_members_get_exactly_the_missing_topic_answer(
    place, chika, policy, status
):
    community, topic = place(policy)
    if status:
        MembershipFactory(community=community, member=chika, status=status)
    client = client_for(chika)

    found = client.get(topic.get_absolute_url())
    missing = _missing_topic_answer(client)

    assert found.status_code == missing.status_code == 404
    assert found.content == missing.content


def test_a_member_still_reads_the_topic(place, chika):
    community, topic = place("approval")
    MembershipFactory(community=community, member=chika)

    html = client_for(chika).get(topic.get_absolute_url()).content.decode()

    assert "the secret word approval" in html
    assert not _join_forms(html)


# --- What README tells a newcomer to read or type is there -------------------

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A path in backticks or a Markdown link: `chat/views.py: topic_detail`,
# [docs/architecture.md](docs/architecture.md).
FILE_REFERENCE = re.compile(
    r"(?:`|\]\()(\.{0,2}/?[\w.-]+(?:/[\w.-]+)*\.(?:py|md|html|js|css|toml|txt))\b"
)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_file_a_doc_names_is_in_the_repository(doc):
    text = doc.read_text()
    missing = [
        name
        for name in FILE_REFERENCE.findall(text)
        if not (ROOT / name).exists()
        and not (doc.parent / name).exists()
        and not any(ROOT.glob(f"*/{name}"))
        and not any(ROOT.glob(f"*/*/{name}"))
    ]
    assert "../" not in text
    assert not missing, f"{doc.name} names files that are not here: {missing}"


def test_every_make_target_the_readme_names_exists():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    named = set(re.findall(r"\bmake ([a-z][\w-]*)", readme))
    assert {"run", "test", "invite", "superuser"} <= named
    assert named <= targets, named - targets
