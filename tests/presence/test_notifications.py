"""Notifications: each kind made by its real action (through the views), what
a member may see of them at the moment they are shown, grouping, settings,
topic mutes, marking read, the badge, and who may reach each view."""

import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from accounts import actions as account_actions
from accounts.models import Block, FriendRequest
from chat.models import Message
from communities.models import JoinPolicy, Membership
from diary.models import Comment, Entry
from presence import notifications
from presence.models import Footprint, Notification, TopicMute
from tests.conftest import MemberFactory, client_for
from tests.factories import CommunityFactory, MembershipFactory, TopicFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def pushed(monkeypatch):
    """What notifications pushed: (member id, html) per send."""
    sent = []
    monkeypatch.setattr(
        notifications.broadcast,
        "send_html_to_member",
        lambda member_id, html: sent.append((member_id, html)),
    )
    return sent


def page_text(client) -> str:
    response = client.get(reverse("presence:notifications"))
    assert response.status_code == 200
    html = response.content.decode()
    main = html[html.index('<main id="main"') :]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def badge(client) -> str:
    """The nav badge's number as a page shows it ("" for none)."""
    html = client.get(reverse("home")).content.decode()
    found = re.search(r'<span id="notification-badge"[^>]*>([^<]*)</span>', html)
    return found.group(1)


def entry_of(author, title="Sunny day", audience="friends"):
    return Entry.objects.create(author=author, title=title, body="b", audience=audience)


def comment_on(client, entry, body="Nice!"):
    return client.post(
        reverse("diary:comment-create", kwargs={"entry_id": entry.pk}), {"body": body}
    )


def like(client, entry):
    return client.post(reverse("diary:entry-like", kwargs={"entry_id": entry.pk}))


# --- Each kind, made by its real action --------------------------------------------


def test_a_friend_request_notifies_its_recipient_while_it_is_pending(aiko, ben):
    ben_client, aiko_client = client_for(ben), client_for(aiko)
    ben_client.post(
        reverse("accounts:friend-request-send", kwargs={"nickname": "aiko"}),
        {"message": ""},
    )
    assert "ben sent you a friend request" in page_text(aiko_client)
    assert badge(aiko_client) == "1"
    request = FriendRequest.objects.get()
    aiko_client.post(
        reverse("accounts:friend-request-decline", kwargs={"request_id": request.pk})
    )
    # Answered: no longer something to act on (and a decline tells ben nothing).
    assert "friend request" not in page_text(aiko_client)
    assert badge(aiko_client) == ""
    assert Notification.objects.filter(recipient=ben).count() == 0


def test_an_accepted_request_notifies_the_sender(aiko, ben):
    request = account_actions.send_friend_request(sender=ben, recipient=aiko)
    client_for(aiko).post(
        reverse("accounts:friend-request-accept", kwargs={"request_id": request.pk})
    )
    ben_client = client_for(ben)
    assert "aiko accepted your friend request" in page_text(ben_client)
    # Unfriended later: the line goes.
    account_actions.unfriend(member=ben, friend=aiko)
    assert "accepted" not in page_text(ben_client)


def test_comments_and_likes_notify_the_entry_author(aiko, ben):
    account_actions.make_friends(aiko, ben)
    entry = entry_of(aiko)
    ben_client = client_for(ben)
    comment_on(ben_client, entry)
    like(ben_client, entry)
    text = page_text(client_for(aiko))
    assert "ben commented on “Sunny day”" in text
    assert "ben liked “Sunny day”" in text
    # Not for one's own comment or like.
    aiko_client = client_for(aiko)
    comment_on(aiko_client, entry)
    like(aiko_client, entry)
    assert Notification.objects.filter(recipient=aiko).count() == 2


def test_a_like_taken_back_leaves_the_list(aiko, ben):
    account_actions.make_friends(aiko, ben)
    entry = entry_of(aiko)
    ben_client = client_for(ben)
    like(ben_client, entry)
    assert "liked" in page_text(client_for(aiko))
    like(ben_client, entry)  # unlike
    assert "liked" not in page_text(client_for(aiko))


@pytest.fixture
def topic_of(db):
    def make(*members):
        community = CommunityFactory(
            owner=members[0], name=f"Club {uuid.uuid4().hex[:6]}"
        )
        for member in members[1:]:
            MembershipFactory(community=community, member=member)
        return TopicFactory(community=community, title="Weekend plans")

    return make


def send_message(client, topic, body):
    return client.post(
        reverse("chat:message-create", kwargs={"topic_id": topic.pk}),
        {"body": body, "client_id": uuid.uuid4().hex},
        **HTMX,
    )


def test_a_mention_notifies_the_mentioned_member(aiko, ben, chika, topic_of):
    topic = topic_of(ben, aiko, chika)
    send_message(client_for(ben), topic, "hi @aiko and @ben")
    assert "ben mentioned you in “Weekend plans”" in page_text(client_for(aiko))
    # Not oneself; not a member not mentioned.
    assert not Notification.objects.filter(recipient__in=[ben, chika]).exists()


def test_a_mention_added_by_an_edit_notifies_once(aiko, ben, topic_of):
    topic = topic_of(ben, aiko)
    send_message(client_for(ben), topic, "hello")
    message = Message.objects.get()
    for body in ("hello @aiko", "hello again @aiko"):
        client_for(ben).post(
            reverse("chat:message-edit", kwargs={"message_id": message.pk}),
            {"body": body},
            **HTMX,
        )
    assert Notification.objects.filter(recipient=aiko, kind="mention").count() == 1


def test_a_mention_leaves_the_list_when_the_recipient_may_no_longer_read_the_topic(
    aiko, ben, topic_of
):
    topic = topic_of(ben, aiko)
    send_message(client_for(ben), topic, "@aiko look")
    aiko_client = client_for(aiko)
    assert "mentioned you" in page_text(aiko_client)
    Membership.objects.filter(member=aiko).update(status=Membership.Status.LEFT)
    assert "mentioned you" not in page_text(aiko_client)
    assert badge(aiko_client) == ""


def test_a_muted_topic_notifies_no_mention(aiko, ben, topic_of):
    topic = topic_of(ben, aiko)
    aiko_client = client_for(aiko)
    mute_url = reverse("presence:topic-mute", kwargs={"topic_id": topic.pk})
    response = aiko_client.post(mute_url, {"muted": "1"}, **HTMX)
    assert 'aria-pressed="true"' in response.content.decode()
    send_message(client_for(ben), topic, "@aiko muted?")
    assert not Notification.objects.filter(recipient=aiko).exists()
    aiko_client.post(mute_url, {"muted": "0"})
    send_message(client_for(ben), topic, "@aiko unmuted")
    assert Notification.objects.filter(recipient=aiko, kind="mention").count() == 1


def test_the_topic_page_has_the_mute_toggle(aiko, ben, topic_of):
    topic = topic_of(ben, aiko)
    html = client_for(aiko).get(topic.get_absolute_url()).content.decode()
    assert 'aria-pressed="false"' in html and "Mute notifications" in html


def test_mute_is_refused_to_who_may_not_read_the_topic_and_for_bad_input(
    aiko, ben, chika, topic_of
):
    topic = topic_of(ben, aiko)
    url = reverse("presence:topic-mute", kwargs={"topic_id": topic.pk})
    assert client_for(chika).post(url, {"muted": "1"}).status_code == 404
    assert Client().post(url, {"muted": "1"}).status_code in (302, 404)
    assert client_for(aiko).get(url).status_code == 405
    assert client_for(aiko).post(url, {"muted": "maybe"}).status_code == 400
    assert not TopicMute.objects.exists()


def test_join_requests_notify_moderators_and_an_acceptance_the_requester(
    aiko, ben, chika, daichi
):
    community = CommunityFactory(
        owner=aiko, name="Tea", join_policy=JoinPolicy.APPROVAL
    )
    MembershipFactory(community=community, member=chika, role=Membership.Role.MODERATOR)
    MembershipFactory(community=community, member=daichi)
    client_for(ben).post(
        reverse("communities:join", kwargs={"community_id": community.pk})
    )
    for moderator in (aiko, chika):
        assert "ben asked to join Tea" in page_text(client_for(moderator))
    assert not Notification.objects.filter(recipient=daichi).exists()
    client_for(chika).post(
        reverse(
            "communities:request-decide",
            kwargs={"community_id": community.pk, "member_id": ben.pk},
        ),
        {"decision": "accept"},
    )
    assert "Your request to join Tea was accepted" in page_text(client_for(ben))
    # Decided: the request line leaves the moderators' lists.
    assert "asked to join" not in page_text(client_for(aiko))
    # Banned later: the good news is no longer shown.
    Membership.objects.filter(member=ben).update(status=Membership.Status.BANNED)
    assert "accepted" not in page_text(client_for(ben))


def test_a_join_request_leaves_the_list_of_one_who_no_longer_moderates(
    aiko, ben, chika
):
    community = CommunityFactory(
        owner=aiko, name="Tea", join_policy=JoinPolicy.APPROVAL
    )
    MembershipFactory(community=community, member=chika, role=Membership.Role.MODERATOR)
    client_for(ben).post(
        reverse("communities:join", kwargs={"community_id": community.pk})
    )
    chika_client = client_for(chika)
    assert "ben asked to join Tea" in page_text(chika_client)
    Membership.objects.filter(member=chika).update(role=Membership.Role.MEMBER)
    assert "asked to join" not in page_text(chika_client)
    assert badge(chika_client) == ""
    assert "ben asked to join Tea" in page_text(client_for(aiko))


def test_a_declined_join_request_tells_the_requester_nothing(aiko, ben):
    community = CommunityFactory(
        owner=aiko, name="Tea", join_policy=JoinPolicy.APPROVAL
    )
    client_for(ben).post(
        reverse("communities:join", kwargs={"community_id": community.pk})
    )
    client_for(aiko).post(
        reverse(
            "communities:request-decide",
            kwargs={"community_id": community.pk, "member_id": ben.pk},
        ),
        {"decision": "decline"},
    )
    assert not Notification.objects.filter(recipient=ben).exists()


def test_an_invitation_notifies_the_friend_while_it_is_open(aiko, ben):
    account_actions.make_friends(aiko, ben)
    community = CommunityFactory(owner=aiko, name="Secret tea", join_policy="secret")
    client_for(aiko).post(
        reverse("communities:invite", kwargs={"community_id": community.pk}),
        {"friend": ben.pk},
    )
    ben_client = client_for(ben)
    assert "aiko invited you to Secret tea" in page_text(ben_client)
    ben_client.post(reverse("communities:join", kwargs={"community_id": community.pk}))
    assert "invited you" not in page_text(ben_client)


def test_footprints_fold_into_one_line_a_day_and_follow_the_recipients_setting(
    aiko, ben, chika
):
    from django.utils import timezone

    day = timezone.localdate()
    for visitor in (ben, chika):
        Footprint.objects.create(owner=aiko, visitor=visitor, day=day)
        notifications.notify(
            aiko.pk,
            "footprint",
            actor_id=visitor.pk,
            group_key=f"footprint:{day.isoformat()}",
        )
    aiko_client = client_for(aiko)
    assert "chika and 1 other left footprints" in page_text(aiko_client)
    assert badge(aiko_client) == "1"
    aiko.leaves_footprints = False
    aiko.save(update_fields=["leaves_footprints"])
    assert "footprint" not in page_text(aiko_client)
    aiko.leaves_footprints = True
    aiko.save(update_fields=["leaves_footprints"])
    # A visitor who deletes their footprint takes the line with it.
    Footprint.objects.filter(visitor=chika).delete()
    assert "ben left a footprint" in page_text(aiko_client)


def test_a_members_repeated_visit_or_like_replaces_their_row_and_moves_the_line_up(
    aiko, ben, chika
):
    from django.utils import timezone

    day = timezone.localdate()
    Footprint.objects.create(owner=aiko, visitor=ben, day=day)
    entry = entry_of(aiko, audience="members")
    group = f"footprint:{day.isoformat()}"
    notifications.notify(aiko.pk, "footprint", actor_id=ben.pk, group_key=group)
    like(client_for(chika), entry)
    notifications.notify(aiko.pk, "footprint", actor_id=ben.pk, group_key=group)
    assert Notification.objects.filter(kind="footprint").count() == 1
    text = page_text(client_for(aiko))
    assert text.index("ben left a footprint") < text.index("chika liked")
    like(client_for(chika), entry)  # taken back
    like(client_for(chika), entry)  # and given again
    assert Notification.objects.filter(kind="diary_like").count() == 1


# --- Seen at the moment it is shown ------------------------------------------------


def test_a_block_hides_the_notifications_between_the_two_members_both_ways(aiko, ben):
    account_actions.make_friends(aiko, ben)
    entry = entry_of(aiko)
    comment_on(client_for(ben), entry)
    like(client_for(ben), entry)
    aiko_client = client_for(aiko)
    assert badge(aiko_client) == "2"
    Block.objects.create(blocker=ben, blocked=aiko)
    text = page_text(aiko_client)
    assert "commented" not in text and "liked" not in text
    assert badge(aiko_client) == ""
    # And nothing new is recorded across it.
    assert notifications.notify(aiko.pk, "diary_like", actor_id=ben.pk) is None


def test_a_deleted_comment_leaves_the_list_and_the_count(aiko, ben):
    account_actions.make_friends(aiko, ben)
    entry = entry_of(aiko)
    comment_on(client_for(ben), entry)
    aiko_client = client_for(aiko)
    assert badge(aiko_client) == "1"
    Comment.objects.all().delete()
    assert "commented" not in page_text(aiko_client)
    assert badge(aiko_client) == ""


def test_a_comment_on_an_entry_narrowed_later_leaves_the_list(
    aiko, ben, chika, monkeypatch
):
    """The read-time check runs through Comment.objects.visible_to(recipient):
    a reader that no longer shows the comment (as after an audience change
    seen by someone other than the author) takes the line and the count."""
    account_actions.make_friends(aiko, ben)
    entry = entry_of(aiko)
    comment_on(client_for(ben), entry)
    aiko_client = client_for(aiko)
    assert badge(aiko_client) == "1"
    monkeypatch.setattr(
        type(Comment.objects.all()), "visible_to", lambda self, viewer: self.none()
    )
    assert "commented" not in page_text(aiko_client)
    assert badge(aiko_client) == ""


def test_a_like_on_an_entry_the_recipient_may_no_longer_see_leaves_the_list(
    aiko, ben, monkeypatch
):
    """The read-time check runs through Entry.objects.visible_to(recipient):
    with a reader that hides the entry, the line and the count go."""
    account_actions.make_friends(aiko, ben)
    entry = entry_of(aiko)
    like(client_for(ben), entry)
    aiko_client = client_for(aiko)
    assert badge(aiko_client) == "1"
    monkeypatch.setattr(
        type(Entry.objects.all()), "visible_to", lambda self, viewer: self.none()
    )
    assert "liked" not in page_text(aiko_client)
    assert badge(aiko_client) == ""


# --- Grouping ----------------------------------------------------------------------


def test_ten_likes_on_one_entry_are_one_line_the_latest_liker_first(aiko, ben):
    entry = entry_of(aiko, audience="members")
    likers = [MemberFactory(nickname=f"liker{n}") for n in range(9)] + [ben]
    for liker in likers:
        like(client_for(liker), entry)
    aiko_client = client_for(aiko)
    text = page_text(aiko_client)
    assert "ben and 9 others liked “Sunny day”" in text
    assert text.count("liked") == 1
    assert badge(aiko_client) == "1"


# --- Marking read ------------------------------------------------------------------


def test_marking_one_line_read_marks_its_whole_group_and_pushes_the_badge(
    aiko, ben, chika, pushed, django_capture_on_commit_callbacks
):
    entry = entry_of(aiko, audience="members")
    like(client_for(ben), entry)
    like(client_for(chika), entry)
    comment_on(client_for(ben), entry)
    aiko_client = client_for(aiko)
    assert badge(aiko_client) == "2"
    latest_like = Notification.objects.filter(kind="diary_like").latest("id")
    pushed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = aiko_client.post(
            reverse(
                "presence:notification-read", kwargs={"notification_id": latest_like.pk}
            ),
            **HTMX,
        )
    assert response.status_code == 200
    assert "notification-unread" not in response.content.decode()
    assert not Notification.objects.filter(kind="diary_like", read_at=None).exists()
    assert badge(aiko_client) == "1"
    assert [member_id for member_id, _html in pushed] == [aiko.pk]
    assert '<span id="notification-badge" class="badge">1</span>' in pushed[0][1]


def test_mark_all_as_read_zeroes_the_badge_in_every_tab(
    aiko, ben, pushed, django_capture_on_commit_callbacks
):
    entry = entry_of(aiko, audience="members")
    like(client_for(ben), entry)
    comment_on(client_for(ben), entry)
    aiko_client = client_for(aiko)
    assert (
        "Mark all as read"
        in aiko_client.get(reverse("presence:notifications")).content.decode()
    )
    pushed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = aiko_client.post(reverse("presence:notifications-read-all"))
    assert response.status_code == 302
    assert badge(aiko_client) == ""
    assert pushed and pushed[-1][0] == aiko.pk
    assert 'id="notification-badge" class="badge" hidden' in pushed[-1][1]


def test_opening_a_line_marks_it_read_and_goes_to_the_thing(aiko, ben):
    entry = entry_of(aiko, audience="members")
    comment_on(client_for(ben), entry)
    notification = Notification.objects.get()
    comment = Comment.objects.get()
    aiko_client = client_for(aiko)
    url = reverse(
        "presence:notification-open", kwargs={"notification_id": notification.pk}
    )
    assert aiko_client.get(url).status_code == 405
    response = aiko_client.post(url)
    assert response.status_code == 303
    assert response["Location"] == f"{entry.get_absolute_url()}#comment-{comment.pk}"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_no_one_else_may_open_or_mark_a_members_notification(aiko, ben, chika):
    entry = entry_of(aiko, audience="members")
    comment_on(client_for(ben), entry)
    notification = Notification.objects.get()
    for name in ("notification-open", "notification-read"):
        url = reverse(f"presence:{name}", kwargs={"notification_id": notification.pk})
        for member in (ben, chika):
            assert client_for(member).post(url).status_code == 404
        anonymous = Client().post(url)
        assert (
            anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
        )
    Client().post(reverse("presence:notifications-read-all"))
    client_for(ben).post(reverse("presence:notifications-read-all"))
    notification.refresh_from_db()
    assert notification.read_at is None


def test_a_line_the_member_may_no_longer_see_cannot_be_opened(aiko, ben):
    account_actions.make_friends(aiko, ben)
    comment_on(client_for(ben), entry_of(aiko))
    notification = Notification.objects.get()
    Block.objects.create(blocker=aiko, blocked=ben)
    url = reverse(
        "presence:notification-open", kwargs={"notification_id": notification.pk}
    )
    assert client_for(aiko).post(url).status_code == 404


# --- Settings ----------------------------------------------------------------------


def test_a_kind_turned_off_is_not_recorded_and_the_others_are(aiko, ben):
    aiko_client = client_for(aiko)
    url = reverse("presence:notification-settings")
    html = aiko_client.get(url).content.decode()
    # On by default: every kind's checkbox is checked.
    assert html.count("checked") == len(notifications.KINDS)
    kept = [name for name in notifications.KINDS if name != "diary_like"]
    assert aiko_client.post(url, {"kinds": kept}).status_code == 302
    entry = entry_of(aiko, audience="members")
    like(client_for(ben), entry)
    comment_on(client_for(ben), entry)
    assert list(Notification.objects.values_list("kind", flat=True)) == [
        "diary_comment"
    ]
    html = aiko_client.get(url).content.decode()
    assert html.count("checked") == len(notifications.KINDS) - 1


def test_an_unknown_kind_in_settings_is_refused_and_changes_nothing(aiko):
    aiko_client = client_for(aiko)
    url = reverse("presence:notification-settings")
    response = aiko_client.post(url, {"kinds": ["mention", "nonsense"]})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert notifications.enabled_kinds(aiko) == set(notifications.KINDS)
    assert Client().get(url).status_code == 302
    assert aiko_client.put(url).status_code == 405


# --- The badge and its accessible name ---------------------------------------------


def test_the_nav_link_is_named_with_the_unread_count_in_the_pages_language(aiko, ben):
    entry = entry_of(aiko, audience="members")
    for liker in (ben,):
        like(client_for(liker), entry)
    comment_on(client_for(ben), entry)
    comment_on(client_for(ben), entry_of(aiko, title="Other", audience="members"))
    html = client_for(aiko).get(reverse("home")).content.decode()
    assert 'aria-labelledby="notification-label-en"' in html
    assert (
        '<span id="notification-label-en" hidden>Notifications, 3 unread</span>' in html
    )


def test_the_badge_is_one_query_and_none_for_a_fragment(
    aiko, ben, django_assert_num_queries
):
    entry = entry_of(aiko, audience="members")
    like(client_for(ben), entry)
    with django_assert_num_queries(1):
        assert notifications.unread_count(aiko) == 1


# --- Query counts ------------------------------------------------------------------


def _fill(aiko, rows: int, *, batch: int):
    """`rows` notifications of every shape: likes from many members on a few
    entries, comments, friend requests, mentions."""
    members = MemberFactory.create_batch(max(rows // 4, 2))
    entries = [
        entry_of(aiko, title=f"E{batch}-{n}", audience="members") for n in range(3)
    ]
    topic = TopicFactory(
        community=CommunityFactory(owner=aiko, name=f"Club {batch}"), title="T"
    )
    made = 0
    while made < rows:
        for member in members:
            if made >= rows:
                break
            entry = entries[made % 3]
            kind = made % 4
            if kind == 0:
                from diary.models import Like

                Like.objects.get_or_create(entry=entry, member=member)
                notifications.notify(
                    aiko.pk, "diary_like", actor_id=member.pk, target_id=entry.pk
                )
            elif kind == 1:
                comment = Comment.objects.create(entry=entry, author=member, body="x")
                notifications.notify(
                    aiko.pk, "diary_comment", actor_id=member.pk, target_id=comment.pk
                )
            elif kind == 2:
                MembershipFactory(community=topic.community, member=member) if not (
                    Membership.objects.filter(
                        community=topic.community, member=member
                    ).exists()
                ) else None
                message = Message.objects.create(
                    topic=topic, author=member, body="@aiko", client_id=uuid.uuid4().hex
                )
                from chat.models import Mention

                Mention.objects.create(message=message, member=aiko)
                notifications.notify(
                    aiko.pk, "mention", actor_id=member.pk, target_id=message.pk
                )
            else:
                request = FriendRequest.objects.filter(
                    from_member=member, to_member=aiko
                ).first() or FriendRequest.objects.create(
                    from_member=member, to_member=aiko
                )
                notifications.notify(
                    aiko.pk, "friend_request", actor_id=member.pk, target_id=request.pk
                )
            made += 1


def test_the_notifications_page_and_badge_stay_flat_as_notifications_grow(
    aiko, django_assert_num_queries
):
    client = client_for(aiko)
    _fill(aiko, 10, batch=0)
    client.get(reverse("presence:notifications"))  # the session, warmed
    with_10 = _page_queries(client)
    with django_assert_num_queries(1):
        notifications.unread_count(aiko)
    _fill(aiko, 90, batch=1)
    assert Notification.objects.filter(recipient=aiko).count() == 100
    with django_assert_num_queries(with_10):
        response = client.get(reverse("presence:notifications"))
    assert response.status_code == 200
    assert response.content.decode().count('class="request-row notification') == (
        notifications.PAGE_SIZE
    )
    with django_assert_num_queries(1):
        notifications.unread_count(aiko)


def _page_queries(client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("presence:notifications")).status_code == 200
    return len(captured.captured_queries)


def test_the_badge_view_answers_the_members_own_count_never_cached(aiko, ben):
    entry = entry_of(aiko, audience="members")
    like(client_for(ben), entry)
    url = reverse("presence:notification-badge")
    response = client_for(aiko).get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert '<span id="notification-badge" class="badge">1</span>' in html
    assert "hx-swap-oob" not in html
    assert 'class="badge" hidden></span>' in client_for(ben).get(url).content.decode()
    assert client_for(aiko).post(url).status_code == 405
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_a_new_notification_asks_web_push_to_reach_the_recipients_devices(
    aiko, ben, monkeypatch, django_capture_on_commit_callbacks
):
    from presence import push

    asked = []
    monkeypatch.setattr(
        push, "notify_devices", lambda member_id, url: asked.append((member_id, url))
    )
    entry = entry_of(aiko, audience="members")
    with django_capture_on_commit_callbacks(execute=True):
        like(client_for(ben), entry)
    assert asked == [(aiko.pk, reverse("presence:notifications"))]
    # Nothing recorded, nothing pushed.
    with django_capture_on_commit_callbacks(execute=True):
        like(client_for(aiko), entry)
    assert len(asked) == 1


def test_a_device_push_that_fails_does_not_undo_the_write(
    aiko, ben, monkeypatch, django_capture_on_commit_callbacks
):
    from presence import push

    def broken(member_id, url):
        raise ConnectionError("push service down")

    monkeypatch.setattr(push, "notify_devices", broken)
    entry = entry_of(aiko, audience="members")
    with django_capture_on_commit_callbacks(execute=True):
        response = like(client_for(ben), entry)
    assert response.status_code in (200, 302)
    assert Notification.objects.filter(recipient=aiko).count() == 1


def test_answering_or_withdrawing_a_request_pushes_the_lower_count(
    aiko, ben, chika, pushed, django_capture_on_commit_callbacks
):
    first = account_actions.send_friend_request(sender=ben, recipient=aiko)
    second = account_actions.send_friend_request(sender=chika, recipient=aiko)
    pushed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        account_actions.decline_friend_request(member=aiko, request_id=first.pk)
    assert [m for m, html in pushed if "notification-count" in html] == [aiko.pk]
    assert '<span id="notification-badge" class="badge">1</span>' in pushed[-1][1]
    pushed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        account_actions.cancel_friend_request(member=chika, request_id=second.pk)
    assert [m for m, html in pushed if "notification-count" in html] == [aiko.pk]
    assert 'class="badge" hidden></span>' in pushed[-1][1]


def test_a_visit_to_a_members_page_notifies_them_of_the_footprint(
    aiko, ben, django_capture_on_commit_callbacks
):
    """Through the footprints feature (presence/footprints.py): ben opens
    aiko's page, and aiko's notifications fold it into today's line."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(ben).get(
            reverse("accounts:member-detail", kwargs={"nickname": "aiko"})
        )
    assert response.status_code == 200
    aiko_client = client_for(aiko)
    assert "ben left a footprint" in page_text(aiko_client)
    assert badge(aiko_client) == "1"
    # ben sees nothing of it.
    assert "footprint" not in page_text(client_for(ben))


def test_the_page_is_the_members_own_and_pages_through_older_lines(aiko, ben, chika):
    entries = [entry_of(aiko, title=f"Day {n}", audience="members") for n in range(25)]
    for entry in entries:
        like(client_for(ben), entry)
    aiko_client = client_for(aiko)
    first = page_text(aiko_client)
    # Newest first: the last entry liked heads the first page.
    assert "ben liked “Day 24”" in first and "“Day 4”" not in first
    assert "Page 1 of 2" in first
    second = aiko_client.get(reverse("presence:notifications") + "?page=2")
    assert "ben liked “Day 4”" in second.content.decode()
    assert "“Day 5”" not in second.content.decode()
    # Bad page numbers: the nearest page, no error.
    for page in ("abc", "99", "-1"):
        url = reverse("presence:notifications") + f"?page={page}"
        assert aiko_client.get(url).status_code == 200
    # Nobody else sees aiko's lines; nobody logged out sees a page.
    assert "liked" not in page_text(client_for(chika))
    assert "liked" not in page_text(client_for(ben))
    anonymous = Client().get(reverse("presence:notifications"))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
