"""Word filters, held messages and the link wait (moderation/filters.py,
moderation/held.py, moderation/filter_views.py): what a message is matched
as, what chat's send path does with a refusal or a hold, and the moderators'
filters page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chat.models import Message
from communities.access import NotAllowed
from communities.models import Membership, Topic
from moderation import filters
from moderation.models import HeldMessage, ModerationAction, WordFilter
from tests.chat.conftest import HTMX, refused, send
from tests.conftest import client_for
from tests.factories import CommunityFactory
from tests.moderation.conftest import audit_kinds

pytestmark = pytest.mark.django_db


def word(club, pattern, action=WordFilter.Action.BLOCK):
    return WordFilter.objects.create(community=club, pattern=pattern, action=action)


def verdict(club, author, body):
    """check_message's answer, or the refusal's words."""
    try:
        return filters.check_message(club, author, body)
    except NotAllowed as exc:
        return str(exc)


def joined_ago(club, member, hours):
    Membership.objects.filter(community=club, member=member).update(
        created_at=timezone.now() - timedelta(hours=hours)
    )


def refusal_words(text):
    return f"This message contains a word this community does not allow: “{text}”."


# Matching.


@pytest.mark.parametrize(
    ("pattern", "body", "matched"),
    [
        ("spam", "Buy SPAM now", "spam"),
        # Full-width letters are folded (NFKC) and case too.
        ("spam", "ＳＰＡＭ です", "spam"),
        ("ＳＰＡＭ", "cheap spam", "spam"),
        # Japanese has no spaces: a kana word matches inside a sentence,
        # half-width kana too.
        ("バカ", "お前バカだな", "バカ"),
        ("バカ", "ﾊﾞｶじゃないの", "バカ"),
        ("詐欺", "これは詐欺です", "詐欺"),
        # A Latin word in Japanese text still matches as a word.
        ("spam", "これはspamです", "spam"),
        # Wildcards.
        ("spam*", "no spammers here", "spammers"),
        ("*coin", "get bitcoin!", "bitcoin"),
        ("c*n", "a coin", "coin"),
    ],
)
def test_a_blocked_word_refuses_the_message_naming_it(
    club, ben, pattern, body, matched
):
    word(club, filters.clean_pattern(pattern))
    assert verdict(club, ben, body) == refusal_words(matched)


@pytest.mark.parametrize(
    ("pattern", "body"),
    [
        # A Latin word matches whole words only.
        ("ass", "a class on espresso"),
        ("spam", "spammers"),
        ("*coin", "coins"),
        ("spam*", "antispam"),
        ("バカ", "ばか"),  # hiragana is another word to the list
    ],
)
def test_a_word_inside_another_word_is_let_through(club, ben, pattern, body):
    word(club, filters.clean_pattern(pattern))
    assert verdict(club, ben, body) is None


def test_a_held_word_holds_and_a_blocked_word_wins(club, ben):
    word(club, "coffee", WordFilter.Action.HOLD)
    assert verdict(club, ben, "Coffee later?") == filters.HOLD
    word(club, "decaf")
    assert verdict(club, ben, "Coffee, decaf?") == refusal_words("decaf")
    assert verdict(club, ben, "Tea later?") is None


def test_another_communitys_words_do_not_apply(club, ben, aiko):
    other = CommunityFactory(owner=aiko)
    word(other, "coffee")
    assert verdict(club, ben, "coffee") is None


def test_checking_a_message_is_one_query(club, ben, django_assert_num_queries):
    for n in range(30):
        word(club, f"word{n}*", WordFilter.Action.HOLD if n % 2 else "block")
    with django_assert_num_queries(1):
        assert verdict(club, ben, "nothing to see") is None
    with django_assert_num_queries(1):
        assert verdict(club, ben, "word7s") == filters.HOLD


@pytest.mark.parametrize("pattern", ["", "*", "**", "  "])
def test_a_pattern_needs_a_letter(pattern):
    with pytest.raises(NotAllowed):
        filters.clean_pattern(pattern)


# Links.


@pytest.mark.parametrize(
    "body",
    [
        "see https://example.net/x",
        "www.example",
        "go to example.com now",
        "日本語example.jpです",
        "ｅｘａｍｐｌｅ．ｃｏｍ",
    ],
)
def test_a_new_member_may_not_post_a_link(club, ben, body):
    assert verdict(club, ben, body) == "New members can post links after 24 hours."


@pytest.mark.parametrize("body", ["file.txt", "e.g. this", "v1.2.3", "9.5 beans"])
def test_what_is_no_link_is_let_through(club, ben, body):
    assert verdict(club, ben, body) is None


def test_a_member_of_longer_standing_may_post_links(club, ben):
    joined_ago(club, ben, 25)
    assert verdict(club, ben, "https://example.com") is None
    club.link_wait_hours = 30
    assert verdict(club, ben, "https://example.com") == (
        "New members can post links after 30 hours."
    )


def test_moderators_and_staff_do_not_wait_for_links(club, daichi, aiko, staff):
    assert verdict(club, daichi, "https://example.com") is None
    assert verdict(club, aiko, "https://example.com") is None
    assert verdict(club, staff, "https://example.com") is None


def test_no_wait_when_the_community_sets_none(club, ben):
    club.link_wait_hours = 0
    assert verdict(club, ben, "https://example.com") is None


# Through chat's send path.


def test_a_blocked_message_is_refused_at_the_composer_and_not_saved(club, topic, ben):
    word(club, "decaf")
    response = send(client_for(ben), topic, "Decaf anyone?")
    assert refused(response) == (400, refusal_words("decaf"))
    assert not Message.objects.filter(topic=topic).exists()


def test_a_new_members_link_is_refused_at_the_composer(club, topic, ben):
    response = send(client_for(ben), topic, "https://example.com")
    assert refused(response) == (400, "New members can post links after 24 hours.")
    assert not Message.objects.filter(topic=topic).exists()


def test_a_held_message_is_kept_for_review_and_audited(club, topic, ben):
    word(club, "coffee", WordFilter.Action.HOLD)
    response = send(client_for(ben), topic, "Coffee at 3?", client_id="c-1")
    status, words = refused(response)
    assert words == "Your message is held for a moderator to review."
    assert not Message.objects.filter(topic=topic).exists()
    held = HeldMessage.objects.get()
    assert (held.topic, held.author, held.body, held.client_id, held.matched) == (
        topic,
        ben,
        "Coffee at 3?",
        "c-1",
        "coffee",
    )
    assert audit_kinds(club) == [ModerationAction.Kind.HOLD]
    # The same form sent again holds nothing new.
    send(client_for(ben), topic, "Coffee at 3?", client_id="c-1")
    assert HeldMessage.objects.count() == 1


def held_message(club, topic, ben):
    word(club, "coffee", WordFilter.Action.HOLD)
    send(client_for(ben), topic, "Coffee at 3?", client_id="c-1")
    return HeldMessage.objects.get()


def test_a_moderator_approves_a_held_message_and_it_is_posted(club, topic, ben, daichi):
    held = held_message(club, topic, ben)
    response = client_for(daichi).post(
        reverse("moderation:held-approve", kwargs={"held_id": held.pk})
    )
    assert response.status_code == 302
    message = Message.objects.get(topic=topic)
    assert (message.author, message.body, message.client_id) == (
        ben,
        "Coffee at 3?",
        "c-1",
    )
    assert not HeldMessage.objects.exists()
    approve = ModerationAction.objects.get(kind=ModerationAction.Kind.APPROVE)
    assert (approve.actor, approve.member, approve.target_id) == (
        daichi,
        ben,
        message.pk,
    )
    # A resend of the held form now finds the posted message.
    response = send(client_for(ben), topic, "Coffee at 3?", client_id="c-1")
    assert response.status_code == 200
    assert Message.objects.filter(topic=topic).count() == 1


def test_a_moderator_rejects_a_held_message_and_it_is_gone(club, topic, ben, daichi):
    held = held_message(club, topic, ben)
    client_for(daichi).post(
        reverse("moderation:held-reject", kwargs={"held_id": held.pk})
    )
    assert not HeldMessage.objects.exists()
    assert not Message.objects.exists()
    assert audit_kinds(club) == [
        ModerationAction.Kind.HOLD,
        ModerationAction.Kind.REJECT,
    ]


@pytest.mark.parametrize("route", ["moderation:held-approve", "moderation:held-reject"])
def test_a_member_cannot_approve_or_reject(club, topic, ben, chika, route):
    held = held_message(club, topic, ben)
    response = client_for(chika).post(reverse(route, kwargs={"held_id": held.pk}))
    assert response.status_code == 403
    assert HeldMessage.objects.count() == 1
    assert not Message.objects.exists()


@pytest.mark.parametrize("route", ["moderation:held-approve", "moderation:held-reject"])
def test_a_stranger_is_told_nothing_of_a_held_message(
    club, topic, ben, member_factory, route
):
    held = held_message(club, topic, ben)
    stranger = client_for(member_factory(nickname="stranger"))
    club.join_policy = "secret"
    club.save(update_fields=["join_policy"])
    assert stranger.post(reverse(route, kwargs={"held_id": held.pk})).status_code == 404
    missing = reverse(route, kwargs={"held_id": held.pk + 1})
    assert client_for(aiko_of(club)).post(missing).status_code == 404
    assert HeldMessage.objects.count() == 1


def aiko_of(club):
    return club.memberships.get(role=Membership.Role.OWNER).member


# The filters page.


def filters_url(club):
    return reverse("moderation:filters", kwargs={"community_id": club.pk})


def test_a_moderator_adds_changes_and_removes_words(club, daichi):
    client = client_for(daichi)
    client.post(
        filters_url(club), {"do": "add", "pattern": "ＳＰＡＭ*", "action": "hold"}
    )
    word_filter = WordFilter.objects.get(community=club)
    assert (word_filter.pattern, word_filter.action) == ("spam*", "hold")
    client.post(filters_url(club), {"do": "add", "pattern": "spam*", "action": "block"})
    assert WordFilter.objects.get(community=club).action == "block"
    page = client.get(filters_url(club))
    assert "spam*" in page.content.decode()
    client.post(filters_url(club), {"do": "remove", "filter": word_filter.pk})
    assert not WordFilter.objects.exists()
    assert audit_kinds(club) == [ModerationAction.Kind.FILTER] * 3


def test_a_bad_word_is_refused_and_nothing_changes(club, daichi):
    client = client_for(daichi)
    response = client.post(
        filters_url(club),
        {"do": "add", "pattern": "**", "action": "block"},
        follow=True,
    )
    assert (
        "Write a word, or a word with * for any letters." in response.content.decode()
    )
    client.post(filters_url(club), {"do": "add", "pattern": "x", "action": "zap"})
    assert not WordFilter.objects.exists()
    assert audit_kinds(club) == []


def test_a_moderator_sets_the_link_wait(club, daichi):
    client = client_for(daichi)
    client.post(filters_url(club), {"do": "link_wait", "link_wait_hours": "0"})
    club.refresh_from_db()
    assert club.link_wait_hours == 0
    client.post(filters_url(club), {"do": "link_wait", "link_wait_hours": "-3"})
    client.post(filters_url(club), {"do": "link_wait", "link_wait_hours": "99999"})
    club.refresh_from_db()
    assert club.link_wait_hours == 0


def test_a_member_may_not_open_the_filters_page(club, chika):
    client = client_for(chika)
    assert client.get(filters_url(club)).status_code == 403
    response = client.post(
        filters_url(club), {"do": "add", "pattern": "x", "action": "block"}
    )
    assert response.status_code == 403
    assert not WordFilter.objects.exists()
    status, _words = refused(client.get(filters_url(club), **HTMX))
    assert status == 403


def test_the_filters_page_lists_held_messages_in_flat_queries(club, topic, ben, daichi):
    client = client_for(daichi)
    word(club, "coffee", WordFilter.Action.HOLD)

    def hold(n):
        for i in range(n):
            filters.hold_message(
                topic=topic, author=ben, body=f"coffee {i}", client_id=f"h{i}-{n}"
            )

    hold(1)
    client.get(filters_url(club))  # the session's first read of the member
    with CaptureQueriesContext(connection) as one:
        page = client.get(filters_url(club))
    assert "coffee 0" in page.content.decode()
    hold(5)
    with CaptureQueriesContext(connection) as six:
        page = client.get(filters_url(club))
    assert page.content.decode().count('<li id="held-') == 6
    assert len(six) == len(one)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            "Coffee at 3?",
            "This message has a word moderators review first: start "
            "the topic without it.",
        ),
        ("Decaf at 3?", refusal_words("decaf")),
    ],
)
def test_a_topic_is_not_started_with_a_filtered_first_message(club, ben, body, words):
    word(club, "coffee", WordFilter.Action.HOLD)
    word(club, "decaf")
    response = client_for(ben).post(
        reverse("communities:topic-create", kwargs={"community_id": club.pk}),
        {"title": "Meet up", "body": body, "client_id": "t-1"},
    )
    assert response.status_code == 200
    assert words in response.content.decode().replace("&#x27;", "'")
    assert not Topic.objects.filter(title="Meet up").exists()
    assert not HeldMessage.objects.exists()
