"""Friend requests and friends: the actions (every refusal, the silent
decline and its 30 quiet days, the 1,000-friend cap, races), the pages
(member page buttons, the requests page, a member's friend list by its
audience, friends in common), and the live badge."""

import threading
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import actions, friends
from accounts.actions import ActionRefused, MemberNotFound
from accounts.models import Block, FriendRequest, Friendship
from tests.chat import conftest as chat_fixtures
from tests.chat.conftest import RECEIVE_TIMEOUT
from tests.conftest import client_for

# Live sockets through the real application, as in the chat tests.
live_layer = chat_fixtures.live_layer
open_tab = chat_fixtures.open_tab
open_socket = chat_fixtures.open_socket

PENDING = FriendRequest.Status.PENDING
DECLINED = FriendRequest.Status.DECLINED


def ask(sender, recipient, message=""):
    return actions.send_friend_request(
        sender=sender, recipient=recipient, message=message
    )


def are_friends(a, b) -> bool:
    both = (
        Friendship.objects.filter(member=a, friend=b).exists(),
        (Friendship.objects.filter(member=b, friend=a).exists()),
    )
    assert both[0] == both[1], "a friendship is always both rows"
    return both[0]


@pytest.fixture
def fumi(member_factory):
    return member_factory(nickname="fumi")


@pytest.fixture
def moved_clock(monkeypatch):
    """moved_clock(days): from now on, it is `days` days later."""

    def move(days):
        later = timezone.now() + timedelta(days=days)
        monkeypatch.setattr(timezone, "now", lambda: later)

    return move


# --- Sending ----------------------------------------------------------------------


def test_a_request_waits_for_the_recipients_answer(aiko, fumi):
    request = ask(aiko, fumi, "  We met at the coffee club!  ")

    assert request.status == PENDING
    assert request.message == "We met at the coffee club!"
    assert list(friends.pending_received(fumi)) == [request]
    assert list(friends.pending_sent(aiko)) == [request]
    assert not are_friends(aiko, fumi)


def test_a_request_to_oneself_is_refused(aiko):
    with pytest.raises(ActionRefused, match="to yourself"):
        ask(aiko, aiko)
    assert not FriendRequest.objects.exists()


def test_a_request_to_a_friend_is_refused(aiko, ben):
    actions.make_friends(aiko, ben)

    with pytest.raises(ActionRefused, match="already friends"):
        ask(aiko, ben)
    assert not FriendRequest.objects.exists()


def test_a_second_request_while_one_is_pending_is_refused_as_pending(aiko, fumi):
    ask(aiko, fumi)

    with pytest.raises(ActionRefused, match="to fumi is pending"):
        ask(aiko, fumi, "again")
    assert FriendRequest.objects.count() == 1


def test_asking_a_member_who_already_asked_you_says_to_accept_theirs(aiko, fumi):
    ask(fumi, aiko)

    with pytest.raises(ActionRefused, match="fumi has already sent you a friend"):
        ask(aiko, fumi)
    assert FriendRequest.objects.count() == 1


@pytest.mark.parametrize("who_blocks", ["sender", "recipient"])
def test_a_request_across_a_block_is_answered_as_for_a_missing_member(
    aiko, fumi, who_blocks
):
    blocker, blocked = (aiko, fumi) if who_blocks == "sender" else (fumi, aiko)
    Block.objects.create(blocker=blocker, blocked=blocked)

    with pytest.raises(MemberNotFound, match="There is no member with this"):
        ask(aiko, fumi)
    assert not FriendRequest.objects.exists()


def test_a_request_to_a_deactivated_member_is_answered_as_for_a_missing_one(aiko, fumi):
    fumi.is_active = False
    fumi.save()

    with pytest.raises(MemberNotFound):
        ask(aiko, fumi)


def test_a_message_longer_than_200_characters_is_refused(aiko, fumi):
    with pytest.raises(ActionRefused, match="at most 200 characters"):
        ask(aiko, fumi, "x" * 201)
    assert not FriendRequest.objects.exists()
    assert ask(aiko, fumi, "x" * 200).message == "x" * 200


@pytest.fixture
def cap_of_two(monkeypatch):
    monkeypatch.setattr(friends, "MAX_FRIENDS", 2)


def befriend_many(member, member_factory, count):
    for _ in range(count):
        actions.make_friends(member, member_factory())


@pytest.mark.usefixtures("cap_of_two")
def test_a_member_at_the_friend_limit_cannot_ask(aiko, fumi, member_factory):
    befriend_many(aiko, member_factory, 2)

    with pytest.raises(ActionRefused, match="You already have 2 friends"):
        ask(aiko, fumi)
    assert not FriendRequest.objects.exists()


@pytest.mark.usefixtures("cap_of_two")
def test_no_one_can_ask_a_member_at_the_friend_limit(aiko, fumi, member_factory):
    befriend_many(fumi, member_factory, 2)

    with pytest.raises(ActionRefused, match="fumi already has 2 friends"):
        ask(aiko, fumi)


def test_the_limit_is_a_thousand_friends():
    assert friends.MAX_FRIENDS == 1000


# --- Accepting --------------------------------------------------------------------


def test_accepting_makes_both_friends(aiko, fumi):
    request = ask(aiko, fumi)

    actions.accept_friend_request(member=fumi, request_id=request.pk)

    assert are_friends(aiko, fumi)
    request.refresh_from_db()
    assert request.status == FriendRequest.Status.ACCEPTED
    assert request.decided_at is not None
    assert not friends.pending_received(fumi).exists()
    assert not friends.pending_sent(aiko).exists()


def test_only_the_recipient_can_accept(aiko, fumi, ben):
    request = ask(aiko, fumi)

    for someone in (aiko, ben):
        with pytest.raises(ActionRefused, match="no longer open"):
            actions.accept_friend_request(member=someone, request_id=request.pk)
    assert not are_friends(aiko, fumi)


def test_a_withdrawn_request_cannot_be_accepted(aiko, fumi):
    request = ask(aiko, fumi)
    actions.cancel_friend_request(member=aiko, request_id=request.pk)

    with pytest.raises(ActionRefused, match="no longer open"):
        actions.accept_friend_request(member=fumi, request_id=request.pk)
    assert not are_friends(aiko, fumi)


@pytest.mark.usefixtures("cap_of_two")
@pytest.mark.parametrize("full", ["recipient", "sender"])
def test_accepting_is_refused_when_either_is_at_the_limit(
    aiko, fumi, member_factory, full
):
    request = ask(aiko, fumi)
    befriend_many(fumi if full == "recipient" else aiko, member_factory, 2)

    with pytest.raises(ActionRefused, match="2 friends"):
        actions.accept_friend_request(member=fumi, request_id=request.pk)
    assert not are_friends(aiko, fumi)
    request.refresh_from_db()
    assert request.status == PENDING


# --- The silent decline ------------------------------------------------------------


def test_a_declined_request_still_looks_pending_to_its_sender(aiko, fumi):
    request = ask(aiko, fumi)

    actions.decline_friend_request(member=fumi, request_id=request.pk)

    assert friends.sent_to(aiko, fumi) == request
    assert list(friends.pending_sent(aiko)) == [request]
    assert not friends.pending_received(fumi).exists()
    with pytest.raises(ActionRefused, match="to fumi is pending"):
        ask(aiko, fumi)
    assert FriendRequest.objects.count() == 1


def test_only_the_recipient_can_decline(aiko, fumi):
    request = ask(aiko, fumi)

    with pytest.raises(ActionRefused, match="no longer open"):
        actions.decline_friend_request(member=aiko, request_id=request.pk)
    request.refresh_from_db()
    assert request.status == PENDING


def test_the_sender_may_ask_again_30_days_after_a_decline(aiko, fumi, moved_clock):
    request = ask(aiko, fumi)
    actions.decline_friend_request(member=fumi, request_id=request.pk)

    moved_clock(29)
    with pytest.raises(ActionRefused, match="is pending"):
        ask(aiko, fumi)
    assert friends.sent_to(aiko, fumi) == request

    moved_clock(31)
    # The old request no longer shows as pending; a new one reaches fumi.
    assert friends.sent_to(aiko, fumi) is None
    again = ask(aiko, fumi, "Shall we try again?")
    assert again.pk != request.pk
    assert list(friends.pending_received(fumi)) == [again]


def test_withdrawing_a_declined_request_and_asking_again_stays_silent(aiko, fumi):
    request = ask(aiko, fumi)
    actions.decline_friend_request(member=fumi, request_id=request.pk)
    actions.cancel_friend_request(member=aiko, request_id=request.pk)
    assert friends.sent_to(aiko, fumi) is None

    again = ask(aiko, fumi, "please?")

    # aiko sees a pending request, as after any send; fumi is not asked again.
    assert friends.sent_to(aiko, fumi) == again
    assert again.pk == request.pk
    assert not friends.pending_received(fumi).exists()
    assert FriendRequest.objects.count() == 1


def test_the_declining_member_may_still_ask_the_other(aiko, fumi):
    request = ask(aiko, fumi)
    actions.decline_friend_request(member=fumi, request_id=request.pk)

    theirs = ask(fumi, aiko)
    actions.accept_friend_request(member=aiko, request_id=theirs.pk)

    assert are_friends(aiko, fumi)
    # The old one no longer holds anything back, nor shows as pending.
    assert friends.sent_to(aiko, fumi) is None
    actions.unfriend(member=aiko, friend=fumi)
    assert ask(aiko, fumi).status == PENDING


# --- Cancelling and unfriending ---------------------------------------------------


def test_the_sender_cancels_a_pending_request(aiko, fumi):
    request = ask(aiko, fumi)

    actions.cancel_friend_request(member=aiko, request_id=request.pk)

    request.refresh_from_db()
    assert request.status == FriendRequest.Status.CANCELLED
    assert not friends.pending_received(fumi).exists()
    assert friends.sent_to(aiko, fumi) is None


def test_only_the_sender_can_cancel(aiko, fumi):
    request = ask(aiko, fumi)

    with pytest.raises(ActionRefused, match="no longer open"):
        actions.cancel_friend_request(member=fumi, request_id=request.pk)
    request.refresh_from_db()
    assert request.status == PENDING


def test_unfriending_ends_both_rows(aiko, ben):
    actions.make_friends(aiko, ben)

    actions.unfriend(member=ben, friend=aiko)

    assert not Friendship.objects.exists()


def test_unfriending_a_stranger_is_refused(aiko, fumi):
    with pytest.raises(ActionRefused, match="not friends"):
        actions.unfriend(member=aiko, friend=fumi)


# --- Races ------------------------------------------------------------------------


def at_once(monkeypatch, *works):
    """Run each work in a thread of its own, each held just before it locks
    the two members' rows until all have got there; return what each
    returned or raised."""
    ready = threading.Barrier(len(works), timeout=10)
    lock_pair = actions._lock_pair

    def held(*args):
        ready.wait()
        return lock_pair(*args)

    monkeypatch.setattr(actions, "_lock_pair", held)
    results = [None] * len(works)

    def run(index, work):
        try:
            results[index] = work()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, work))
        for index, work in enumerate(works)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_members_asking_each_other_at_once_make_one_request(
    aiko, fumi, monkeypatch
):
    results = at_once(monkeypatch, lambda: ask(aiko, fumi), lambda: ask(fumi, aiko))

    assert FriendRequest.objects.pending().count() == 1
    refused = [r for r in results if isinstance(r, ActionRefused)]
    assert len(refused) == 1
    # The second saw the first (the row locks), rather than meeting the
    # unique constraint: it is told to accept the other's request.
    assert "already sent you a friend request" in str(refused[0])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_accepts_at_once_never_pass_the_friend_limit(aiko, ben, fumi, monkeypatch):
    monkeypatch.setattr(friends, "MAX_FRIENDS", 1)
    from_aiko = ask(aiko, fumi)
    from_ben = ask(ben, fumi)

    results = at_once(
        monkeypatch,
        lambda: actions.accept_friend_request(member=fumi, request_id=from_aiko.pk),
        lambda: actions.accept_friend_request(member=fumi, request_id=from_ben.pk),
    )

    assert Friendship.objects.filter(member=fumi).count() == 1
    assert sum(isinstance(r, ActionRefused) for r in results) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_accept_and_a_cancel_at_once_end_one_way_or_the_other(
    aiko, fumi, monkeypatch
):
    request = ask(aiko, fumi)

    results = at_once(
        monkeypatch,
        lambda: actions.accept_friend_request(member=fumi, request_id=request.pk),
        lambda: actions.cancel_friend_request(member=aiko, request_id=request.pk),
    )

    request.refresh_from_db()
    assert sum(isinstance(r, ActionRefused) for r in results) == 1
    if request.status == FriendRequest.Status.ACCEPTED:
        assert are_friends(aiko, fumi)
    else:
        assert request.status == FriendRequest.Status.CANCELLED
        assert not are_friends(aiko, fumi)


def test_the_database_holds_one_pending_request_per_pair_either_way(aiko, fumi):
    from django.db import IntegrityError, transaction

    FriendRequest.objects.create(from_member=aiko, to_member=fumi)
    with pytest.raises(IntegrityError), transaction.atomic():
        FriendRequest.objects.create(from_member=fumi, to_member=aiko)
    # Answered requests do not count.
    FriendRequest.objects.create(from_member=fumi, to_member=aiko, status=DECLINED)


# --- Member page -------------------------------------------------------------------


def test_a_strangers_page_offers_add_as_friend_with_a_message_and_block(aiko, fumi):
    response = client_for(aiko).get("/members/fumi/")

    assert response.status_code == 200
    text = response.text
    assert ">Add as friend</button>" in text
    assert '<label for="id_message">Message (optional)</label>' in text
    assert 'action="/members/fumi/friend-request/"' in text
    assert ">Block</button>" in text
    assert 'action="/members/fumi/block/"' in text
    assert "Request pending" not in text


def test_sending_from_the_member_page_shows_request_pending_and_cancel(aiko, fumi):
    aiko_client = client_for(aiko)

    response = aiko_client.post(
        "/members/fumi/friend-request/", {"message": "hello!"}, follow=True
    )

    assert response.redirect_chain == [("/members/fumi/", 302)]
    assert "Your friend request was sent to fumi." in response.text
    assert "Request pending" in response.text
    assert ">Cancel request</button>" in response.text
    assert ">Add as friend</button>" not in response.text
    request = FriendRequest.objects.get()
    assert (request.from_member, request.to_member) == (aiko, fumi)
    assert request.message == "hello!"


def test_a_too_long_message_keeps_what_was_typed_and_sends_nothing(aiko, fumi):
    response = client_for(aiko).post(
        "/members/fumi/friend-request/", {"message": "長" * 201}
    )

    assert response.status_code == 200
    assert "長" * 201 in response.text
    assert "at most 200 characters" in response.text
    assert not FriendRequest.objects.exists()


def test_the_recipients_page_of_the_sender_offers_accept_and_decline(aiko, fumi):
    ask(aiko, fumi, "coffee club")

    response = client_for(fumi).get("/members/aiko/")

    assert "aiko asked to be your friend." in response.text
    assert "coffee club" in response.text
    assert ">Accept</button>" in response.text
    assert ">Decline</button>" in response.text
    assert ">Add as friend</button>" not in response.text


def test_a_friends_page_offers_unfriend_behind_a_confirm_page(aiko, ben):
    actions.make_friends(aiko, ben)
    aiko_client = client_for(aiko)

    page = aiko_client.get("/members/ben/")
    assert 'action="/members/ben/unfriend/"' in page.text
    assert ">Unfriend</button>" in page.text
    assert ">Add as friend</button>" not in page.text

    confirm = aiko_client.get("/members/ben/unfriend/")
    assert confirm.status_code == 200
    assert "Unfriend ben?" in confirm.text
    assert are_friends(aiko, ben)

    done = aiko_client.post("/members/ben/unfriend/", follow=True)
    assert done.redirect_chain == [("/members/ben/", 302)]
    assert "no longer friends" in done.text
    assert not are_friends(aiko, ben)


def test_unfriending_a_stranger_through_the_page_changes_nothing(aiko, fumi):
    response = client_for(aiko).post("/members/fumi/unfriend/", follow=True)

    assert "You and fumi are not friends." in response.text


def test_a_decline_through_the_page_leaves_the_sender_seeing_request_pending(
    aiko, fumi
):
    request = ask(aiko, fumi)

    response = client_for(fumi).post(
        f"/friends/requests/{request.pk}/decline/",
        {"next": "/members/aiko/"},
        follow=True,
    )

    assert response.redirect_chain == [("/members/aiko/", 302)]
    assert ">Add as friend</button>" in response.text  # fumi may still ask
    aikos_view = client_for(aiko).get("/members/fumi/").text
    assert "Request pending" in aikos_view
    assert "declin" not in aikos_view.lower()
    sent = client_for(aiko).get("/friends/requests/").text
    assert "Request pending" in sent
    assert "declin" not in sent.lower().replace(
        "if you decline, the member who asked is not told.", ""
    )


def test_accepting_through_the_page_makes_friends(aiko, fumi):
    request = ask(aiko, fumi)

    response = client_for(fumi).post(
        f"/friends/requests/{request.pk}/accept/", follow=True
    )

    assert response.redirect_chain == [("/friends/requests/", 302)]
    assert "You and aiko are now friends." in response.text
    assert are_friends(aiko, fumi)


def test_a_foreign_next_is_not_followed(aiko, fumi):
    request = ask(aiko, fumi)

    response = client_for(fumi).post(
        f"/friends/requests/{request.pk}/accept/", {"next": "https://evil.example/"}
    )

    assert response["Location"] == "/friends/requests/"


@pytest.mark.parametrize("action", ["accept", "decline"])
def test_no_one_else_can_answer_a_request_through_the_page(aiko, fumi, ben, action):
    request = ask(aiko, fumi)

    for someone in (aiko, ben):
        response = client_for(someone).post(
            f"/friends/requests/{request.pk}/{action}/", follow=True
        )
        assert "This friend request is no longer open." in response.text
    request.refresh_from_db()
    assert request.status == PENDING


def test_no_one_else_can_cancel_a_request_through_the_page(aiko, fumi, ben):
    request = ask(aiko, fumi)

    for someone in (fumi, ben):
        client_for(someone).post(f"/friends/requests/{request.pk}/cancel/")
    request.refresh_from_db()
    assert request.status == PENDING


@pytest.mark.parametrize(
    "path",
    [
        "/friends/requests/1/accept/",
        "/friends/requests/1/decline/",
        "/friends/requests/1/cancel/",
        "/members/fumi/friend-request/",
    ],
)
def test_request_changes_are_post_only(aiko, fumi, path):
    ask(aiko, fumi)

    assert client_for(fumi).get(path).status_code == 405
    assert FriendRequest.objects.get().status == PENDING


@pytest.mark.parametrize(
    "path",
    [
        "/friends/requests/",
        "/members/fumi/unfriend/",
        "/members/fumi/friends/",
    ],
)
def test_anonymous_visitors_are_sent_to_log_in(fumi, client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_anonymous_visitors_cannot_send_or_answer(aiko, fumi, client):
    request = ask(aiko, fumi)

    client.post("/members/aiko/friend-request/")
    client.post(f"/friends/requests/{request.pk}/accept/")

    assert FriendRequest.objects.count() == 1
    assert not Friendship.objects.exists()


def test_the_csrf_token_is_required(aiko, fumi):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(aiko)

    response = strict.post("/members/fumi/friend-request/")

    assert response.status_code == 403
    assert not FriendRequest.objects.exists()


# --- Requests page -----------------------------------------------------------------


def test_the_requests_page_lists_received_and_sent_requests(aiko, ben, fumi):
    ask(aiko, fumi, "from aiko")
    ask(fumi, ben)
    ask(ben, aiko)  # neither to nor from fumi

    response = client_for(fumi).get("/friends/requests/")

    text = response.text
    assert "from aiko" in text
    assert text.count(">Accept</button>") == 1
    assert text.count(">Decline</button>") == 1
    assert text.count(">Cancel request</button>") == 1
    assert 'href="/members/aiko/"' in text
    assert 'href="/members/ben/"' in text


def test_the_requests_page_is_empty_when_nothing_waits(aiko):
    text = client_for(aiko).get("/friends/requests/").text

    assert "No friend requests waiting for you." in text
    assert "You have no pending requests." in text


def test_the_requests_page_query_count_stays_flat(
    aiko, member_factory, django_assert_num_queries
):
    def more_requests(count):
        for _ in range(count):
            ask(member_factory(), aiko)
            ask(aiko, member_factory())

    more_requests(3)
    aiko_client = client_for(aiko)
    # session, member, count + page of received, count + page of sent, the
    # navigation's counts (friend requests, notifications, footprints, reports)
    with django_assert_num_queries(10):
        small = aiko_client.get("/friends/requests/")
    more_requests(17)
    with django_assert_num_queries(10):
        large = aiko_client.get("/friends/requests/")

    assert small.text.count(">Accept</button>") == 3
    assert small.text.count(">Cancel request</button>") == 3
    assert large.text.count(">Accept</button>") == 20
    assert large.text.count(">Cancel request</button>") == 20


def test_pending_received_is_one_query_with_the_senders(
    aiko, member_factory, django_assert_num_queries
):
    for _ in range(5):
        ask(member_factory(), aiko)

    with django_assert_num_queries(1):
        nicknames = [r.from_member.nickname for r in friends.pending_received(aiko)]

    assert len(nicknames) == 5


def test_the_navigation_counts_requests_waiting(aiko, fumi, ben):
    ask(aiko, fumi)
    ask(ben, fumi)

    text = client_for(fumi).get("/friends/").text

    assert '<span id="friend-request-badge" class="badge">2</span>' in text
    assert 'href="/friends/requests/"' in text
    empty = client_for(aiko).get("/friends/").text
    assert '<span id="friend-request-badge" class="badge" hidden></span>' in empty


# --- Live badge -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_new_request_updates_the_recipients_badge_live(aiko, fumi, open_socket):
    socket = await open_socket(fumi)

    await database_sync_to_async(ask)(aiko, fumi)

    frame = await socket.receive_from(timeout=RECEIVE_TIMEOUT)
    assert 'id="friend-request-badge"' in frame
    assert 'hx-swap-oob="true"' in frame
    assert ">1</span>" in frame


@pytest.mark.django_db(transaction=True)
async def test_a_decline_updates_the_decliners_badge_and_tells_the_sender_nothing(
    aiko, fumi, open_socket
):
    request = await database_sync_to_async(ask)(aiko, fumi)
    fumi_socket = await open_socket(fumi)
    aiko_socket = await open_socket(aiko)

    await database_sync_to_async(actions.decline_friend_request)(
        member=fumi, request_id=request.pk
    )

    frame = await fumi_socket.receive_from(timeout=RECEIVE_TIMEOUT)
    assert 'id="friend-request-badge"' in frame
    assert " hidden" in frame
    assert await aiko_socket.receive_nothing(timeout=0.5)


# --- A member's friend list and friends in common ---------------------------------


@pytest.fixture
def circle(member_factory):
    """aiko's friend ben; eri, ben's friend (a friend of a friend of aiko);
    fumi, who knows nobody; gen whom aiko blocked; hana who blocked aiko."""
    people = {
        name: member_factory(nickname=name)
        for name in ("aiko", "ben", "eri", "fumi", "gen", "hana")
    }
    actions.make_friends(people["aiko"], people["ben"])
    actions.make_friends(people["ben"], people["eri"])
    Block.objects.create(blocker=people["aiko"], blocked=people["gen"])
    Block.objects.create(blocker=people["hana"], blocked=people["aiko"])
    return people


# The friend list of aiko: who gets it, under each audience (404: not found).
FRIEND_LIST_ACCESS = {
    "members": {"aiko": 200, "ben": 200, "eri": 200, "fumi": 200, "gen": 404,
                "hana": 404},
    "fof": {"aiko": 200, "ben": 200, "eri": 200, "fumi": 404, "gen": 404,
            "hana": 404},
    "friends": {"aiko": 200, "ben": 200, "eri": 404, "fumi": 404, "gen": 404,
                "hana": 404},
    "me": {"aiko": 200, "ben": 404, "eri": 404, "fumi": 404, "gen": 404,
           "hana": 404},
}  # fmt: skip


@pytest.mark.parametrize("audience", FRIEND_LIST_ACCESS)
def test_a_members_friend_list_answers_as_its_audience_says(circle, audience):
    aiko = circle["aiko"]
    aiko.friends_audience = audience
    aiko.save()

    for viewer, expected in FRIEND_LIST_ACCESS[audience].items():
        response = client_for(circle[viewer]).get("/members/aiko/friends/")
        assert response.status_code == expected, (audience, viewer)
        page = client_for(circle[viewer]).get("/members/aiko/")
        if expected == 200 and viewer != "aiko":
            assert 'href="/members/aiko/friends/"' in page.text, viewer
        elif viewer != "aiko":
            assert 'href="/members/aiko/friends/"' not in page.text, viewer


# The self-introduction of aiko: who sees it on her page, under each audience.
INTRODUCTION_SHOWN = {
    "members": {"aiko", "ben", "eri", "fumi"},
    "fof": {"aiko", "ben", "eri"},
    "friends": {"aiko", "ben"},
    "me": {"aiko"},
}


@pytest.mark.parametrize("audience", INTRODUCTION_SHOWN)
def test_the_self_introduction_shows_as_its_audience_says(circle, audience):
    aiko = circle["aiko"]
    aiko.introduction = "I draw cats."
    aiko.introduction_audience = audience
    aiko.save()

    for viewer, member in circle.items():
        response = client_for(member).get("/members/aiko/")
        if viewer in ("gen", "hana"):
            assert response.status_code == 404
            continue
        assert ("I draw cats." in response.text) == (
            viewer in INTRODUCTION_SHOWN[audience]
        ), viewer


def test_a_friend_list_leaves_out_members_hidden_from_the_viewer(circle):
    ben = circle["ben"]
    ben.friends_audience = "members"
    ben.save()
    actions.make_friends(ben, circle["fumi"])
    # fumi blocks eri: fumi no longer sees eri in ben's list, nor eri fumi.
    Block.objects.create(blocker=circle["fumi"], blocked=circle["eri"])

    def listed(viewer):
        page = client_for(circle[viewer]).get("/members/ben/friends/").context["page"]
        return [m.nickname for m in page.object_list]

    assert listed("aiko") == ["aiko", "eri", "fumi"]
    assert listed("fumi") == ["aiko", "fumi"]
    assert listed("eri") == ["aiko", "eri"]


def test_a_friend_list_leaves_out_deactivated_members(circle):
    circle["eri"].is_active = False
    circle["eri"].save()

    page = client_for(circle["ben"]).get("/members/ben/friends/").context["page"]

    assert [m.nickname for m in page.object_list] == ["aiko"]


def test_the_friend_list_query_count_stays_flat(
    aiko, ben, member_factory, django_assert_num_queries
):
    ben.friends_audience = "members"
    ben.save()
    aiko_client = client_for(aiko)

    def more_friends(count):
        for _ in range(count):
            actions.make_friends(ben, member_factory())

    more_friends(10)
    # session, member, ben (with the block check), can_see (block, friends
    # of friends), count, page, the navigation's counts (friend requests,
    # notifications, footprints, reports)
    with django_assert_num_queries(10):
        small = aiko_client.get("/members/ben/friends/")
    more_friends(90)
    with django_assert_num_queries(10):
        large = aiko_client.get("/members/ben/friends/")

    assert small.text.count('class="avatar avatar-small"') == 10
    assert large.text.count('class="avatar avatar-small"') == friends.FRIENDS_PAGE_SIZE


def test_friends_in_common_are_shown_with_their_count(circle, member_factory):
    aiko, eri = circle["aiko"], circle["eri"]
    # aiko and eri share ben; and chika; gen is a friend of both but blocked.
    chika = member_factory(nickname="chika")
    for person in (aiko, eri):
        actions.make_friends(person, chika)
    actions.make_friends(eri, circle["gen"])
    Block.objects.filter(blocker=aiko).delete()
    actions.make_friends(aiko, circle["gen"])
    Block.objects.create(blocker=circle["gen"], blocked=aiko)

    eri.friends_audience = "fof"
    eri.save()

    response = client_for(aiko).get("/members/eri/")

    assert [m.nickname for m in response.context["in_common"]] == ["ben", "chika"]
    assert response.context["in_common_count"] == 2
    assert "Friends in common" in response.text


def test_friends_in_common_are_hidden_with_the_friend_list(circle):
    # eri's friend list is for her friends: aiko, a friend of a friend, sees
    # neither it nor the friends they share.
    response = client_for(circle["aiko"]).get("/members/eri/")

    assert "in_common" not in response.context
    assert "Friends in common" not in response.text
    assert ">ben</span>" not in response.text


def test_friends_in_common_query_count_stays_flat(
    aiko, fumi, member_factory, django_assert_num_queries
):
    fumi.friends_audience = "members"
    fumi.save()
    aiko_client = client_for(aiko)

    def more_in_common(count):
        for _ in range(count):
            common = member_factory()
            actions.make_friends(aiko, common)
            actions.make_friends(fumi, common)

    more_in_common(10)
    with CaptureQueriesContext(connection) as small_queries:
        small = aiko_client.get("/members/fumi/")
    more_in_common(90)
    with django_assert_num_queries(len(small_queries)):
        large = aiko_client.get("/members/fumi/")

    assert small.context["in_common_count"] == 10
    assert large.context["in_common_count"] == 100
    assert len(large.context["in_common"]) == friends.IN_COMMON_SHOWN


# --- Settings: the profile's audiences ----------------------------------------------


def test_the_profile_form_offers_the_three_audiences_set_as_they_are(aiko):
    aiko.friends_audience = "me"
    aiko.save()

    text = client_for(aiko).get("/settings/profile/").text

    for field, label in [
        ("introduction_audience", "Who can see your self-introduction"),
        ("friends_audience", "Who can see your friend list"),
        ("default_audience", "Default audience for new diary entries and albums"),
    ]:
        assert f'<label for="id_{field}">{label}</label>' in text
        assert f'<select name="{field}"' in text
    for label in ("All members", "Friends of friends", "Friends", "Only me"):
        assert f">{label}</option>" in text
    assert '<option value="me" selected>Only me</option>' in text
    assert '<option value="friends" selected>Friends</option>' in text


def test_saving_the_profile_sets_the_audiences(aiko):
    response = client_for(aiko).post(
        "/settings/profile/",
        {
            "introduction": "hi",
            "introduction_audience": "members",
            "friends_audience": "me",
            "default_audience": "fof",
        },
    )

    assert response.status_code == 302
    aiko.refresh_from_db()
    assert (
        aiko.introduction_audience,
        aiko.friends_audience,
        aiko.default_audience,
    ) == ("members", "me", "fof")


def test_an_unknown_audience_is_refused_and_changes_nothing(aiko):
    response = client_for(aiko).post(
        "/settings/profile/",
        {"introduction": "changed", "friends_audience": "everyone"},
    )

    assert response.status_code == 200
    assert "Select a valid choice." in response.text
    assert "changed" in response.text  # what was typed stays
    aiko.refresh_from_db()
    assert aiko.friends_audience == "friends"
    assert aiko.introduction == ""


def test_a_profile_form_without_the_audiences_keeps_them(aiko):
    aiko.introduction_audience = "members"
    aiko.save()

    client_for(aiko).post("/settings/profile/", {"introduction": "hello"})

    aiko.refresh_from_db()
    assert aiko.introduction == "hello"
    assert aiko.introduction_audience == "members"


# --- Markup -----------------------------------------------------------------------


def test_every_friends_page_is_well_formed(circle, member_factory):
    from tests.test_markup import check

    aiko, fumi = circle["aiko"], circle["fumi"]
    chika = member_factory(nickname="chika")
    ask(fumi, aiko, "hello")
    ask(aiko, chika)
    aiko_client = client_for(aiko)
    pages = {
        "stranger": aiko_client.get("/members/eri/"),
        "asked me": aiko_client.get("/members/fumi/"),
        "I asked": aiko_client.get("/members/chika/"),
        "friend": aiko_client.get("/members/ben/"),
        "me": aiko_client.get("/members/aiko/"),
        "message too long": aiko_client.post(
            "/members/eri/friend-request/", {"message": "x" * 201}
        ),
        "requests": aiko_client.get("/friends/requests/"),
        "unfriend": aiko_client.get("/members/ben/unfriend/"),
        "block": aiko_client.get("/members/ben/block/"),
        "blocks": aiko_client.get("/settings/blocks/"),
        "friend list": aiko_client.get("/members/ben/friends/"),
        "search": aiko_client.get("/members/search/", {"q": "e"}),
        "search error": aiko_client.get("/members/search/", {"q": "x" * 101}),
        "friends": aiko_client.get("/friends/"),
        "profile": aiko_client.get("/settings/profile/"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert check(response.text).faults == [], name


# --- Invitations and the limit ------------------------------------------------------


@pytest.mark.usefixtures("cap_of_two")
def test_a_member_at_the_friend_limit_cannot_create_an_invitation(aiko, member_factory):
    befriend_many(aiko, member_factory, 2)

    with pytest.raises(ActionRefused, match="You already have 2 friends"):
        actions.create_invitation(inviter=aiko)


@pytest.mark.usefixtures("cap_of_two")
def test_an_invitation_used_after_its_inviter_reached_the_limit_adds_no_friend(
    aiko, member_factory
):
    _invitation, token = actions.create_invitation(inviter=aiko)
    befriend_many(aiko, member_factory, 2)

    newcomer = actions.join_with_invitation(
        token=token, nickname="newcomer", password="kumo-no-ue-de-odoru"
    )

    assert newcomer.invited_by == aiko
    assert friends.friend_count(aiko) == 2
    assert not are_friends(aiko, newcomer)
