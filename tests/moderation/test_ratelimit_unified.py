"""One rate limiter (project/ratelimit.py) for every per-member limit, and one
answer when it refuses (project/refusals.py): 429 with the seconds to wait in
`Retry-After` and in the words, for htmx (X-Refused) and plain requests."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from accounts import actions as account_actions
from accounts.actions import make_friends
from accounts.models import FriendRequest
from communities import actions as community_actions
from communities.models import Membership
from diary import actions as diary_actions
from diary.models import Comment, Like
from project import ratelimit
from project.ratelimit import Budget
from project.refusals import refusal
from tests.chat.conftest import HTMX, refused
from tests.conftest import client_for
from tests.diary.conftest import make_entry
from tests.factories import coffee_club

pytestmark = pytest.mark.django_db

START = 1_000_000.0 * 3600  # on a beat's edge for every budget below


@pytest.fixture
def clock(monkeypatch):
    """The limiter's clock, stopped at START and moved by the test."""
    moment = [START]
    monkeypatch.setattr(ratelimit, "now", lambda: moment[0])

    def move(seconds):
        moment[0] += seconds

    return move


# The limiter's retry time.


@pytest.mark.parametrize(
    ("limit", "per", "spread"),
    [
        (10, 10, [0] * 10),  # a burst at once
        (10, 10, [1] * 10),  # at the budget's rate
        (10, 10, [0.3] * 10),  # faster than the rate
        (10, 10, [0, 0, 0, 4.2, 0, 0, 0.7, 0, 0, 0]),
        (2, 60, [0, 0]),
        (20, 3600, [0] * 5 + [61] * 15),
    ],
)
def test_the_retry_time_is_when_the_next_action_is_allowed(clock, limit, per, spread):
    budget = Budget(f"retry-{limit}-{per}", limit=limit, per=per)
    for pause in spread:
        clock(pause)
        assert budget.take("m") is not None
    assert budget.take("m") is None
    wait = budget.retry_after("m")
    if wait > 1:
        clock(wait - 1)
        assert budget.take("m") is None, "allowed before the retry time"
        clock(1)
    else:
        clock(wait)
    assert budget.take("m") is not None, "still refused at the retry time"


def test_the_retry_time_is_at_least_a_second_when_the_cache_is_down(clock, monkeypatch):
    budget = Budget("down", limit=1, per=60)
    monkeypatch.setattr(ratelimit.cache_guard, "attempt", lambda *args, **kwargs: None)
    assert budget.retry_after("m") == 1


def test_spend_refuses_with_the_words_and_the_seconds(clock):
    budget = Budget("spend", limit=2, per=60)
    budget.spend("m", diary_actions.LIKING_TOO_FAST, diary_actions.RateLimited)
    budget.spend("m", diary_actions.LIKING_TOO_FAST, diary_actions.RateLimited)
    with pytest.raises(diary_actions.RateLimited) as refused_one:
        budget.spend("m", diary_actions.LIKING_TOO_FAST, diary_actions.RateLimited)
    assert refused_one.value.retry_after == 45
    assert refused_one.value.status == 429
    assert str(refused_one.value) == (
        "You are liking too fast. Try again in 45 seconds."
    )


# The refusal's header.


@pytest.mark.parametrize("htmx", [True, False])
def test_a_refusal_with_a_retry_time_says_it_in_retry_after(htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    request = RequestFactory().post("/", headers=headers)
    response = refusal(request, "Too fast.", 429, retry_after=0.2)
    assert response["Retry-After"] == "1"
    assert (response.status_code, response.get("X-Refused")) == (
        (200, "429") if htmx else (429, None)
    )
    assert refusal(request, "No.", 400).get("Retry-After") is None


# Every limited action, through its view: a small budget each, spent, and
# the next one answered 429 with the retry time.

SMALL = {"limit": 2, "per": 60}  # refused for 45 s after two at once


def diary_comment(monkeypatch, cast):
    monkeypatch.setattr(diary_actions, "COMMENTS", Budget("t-comments", **SMALL))
    entry = make_entry(cast["aiko"])
    client = client_for(cast["ben"])
    url = reverse("diary:comment-create", kwargs={"entry_id": entry.pk})

    def act():
        return client.post(url, {"body": "Nice"}, **HTMX)

    return act, lambda: Comment.objects.count()


def diary_like(monkeypatch, cast):
    monkeypatch.setattr(diary_actions, "LIKES", Budget("t-likes", **SMALL))
    entries = iter([make_entry(cast["aiko"]) for _ in range(3)])
    client = client_for(cast["ben"])

    def act():
        url = reverse("diary:entry-like", kwargs={"entry_id": next(entries).pk})
        return client.post(url, **HTMX)

    return act, lambda: Like.objects.count()


def friend_request(monkeypatch, cast):
    monkeypatch.setattr(
        account_actions, "FRIEND_REQUESTS", Budget("t-friends", **SMALL)
    )
    client = client_for(cast["aiko"])
    others = iter([cast["chika"], cast["daichi"], cast["eri"]])

    def act():
        url = reverse(
            "accounts:friend-request-send", kwargs={"nickname": next(others).nickname}
        )
        return client.post(url, {"message": ""}, **HTMX)

    return act, lambda: FriendRequest.objects.count()


def community_invitation(monkeypatch, cast):
    monkeypatch.setattr(community_actions, "INVITATIONS", Budget("t-invites", **SMALL))
    club = coffee_club(cast["aiko"])
    for friend in ("chika", "daichi", "eri"):
        make_friends(cast["aiko"], cast[friend])
    client = client_for(cast["aiko"])
    friends = iter([cast["chika"], cast["daichi"], cast["eri"]])

    def act():
        url = reverse("communities:invite", kwargs={"community_id": club.pk})
        return client.post(url, {"friend": next(friends).pk}, **HTMX)

    return act, lambda: Membership.objects.filter(status="invited").count()


@pytest.fixture
def cast(member_factory):
    people = {
        name: member_factory(nickname=name)
        for name in ("aiko", "ben", "chika", "daichi", "eri")
    }
    make_friends(people["aiko"], people["ben"])  # ben reads aiko's diary
    return people


@pytest.mark.parametrize(
    ("limited", "words"),
    [
        (diary_comment, "You are commenting too fast. Try again in 45 seconds."),
        (diary_like, "You are liking too fast. Try again in 45 seconds."),
        (
            friend_request,
            "You are sending friend requests too fast. Try again in 45 seconds.",
        ),
        (community_invitation, "You are inviting too fast. Try again in 45 seconds."),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_every_limited_action_answers_429_with_retry_after(
    clock, monkeypatch, cast, limited, words
):
    act, done = limited(monkeypatch, cast)
    for _ in range(2):
        assert "X-Refused" not in act()
    assert done() == 2
    response = act()
    assert refused(response) == (429, words)
    assert response["Retry-After"] == "45"
    assert done() == 2, "the refused one changed something"
