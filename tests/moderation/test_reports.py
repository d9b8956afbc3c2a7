"""Reports: a member reports what they may see, once; moderators of its
community (staff, for members and private content) see it in their queue
and resolve it; the reporter is told the outcome without the moderator's
name, and the audit log records it."""

import re

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.audience import Audience
from chat.models import Message
from communities.access import Forbidden, NotAllowed, RateLimited
from communities.models import JoinPolicy, Membership
from diary.models import Comment, Entry
from moderation import reports
from moderation.models import ModerationAction, Report, Rule, TargetKind
from presence import notifications
from presence.models import Notification
from tests.conftest import client_for
from tests.factories import CommunityFactory, MessageFactory, TopicFactory
from tests.moderation.conftest import membership

pytestmark = pytest.mark.django_db

QUEUE = reverse("moderation:reports")


def resolve_url(report) -> str:
    return reverse("moderation:report-resolve", kwargs={"report_id": report.pk})


def report_url(kind, target_id) -> str:
    return f"{reverse('moderation:report')}?kind={kind}&id={target_id}"


@pytest.fixture
def message(topic, ben):
    return MessageFactory(topic=topic, author=ben, body="Buy <b>cheap</b> beans")


def notification_html(member) -> str:
    return client_for(member).get(reverse("presence:notifications")).content.decode()


# --- Reporting --------------------------------------------------------------------


def test_report_flow_queue_resolve_notify_and_audit(
    club, topic, message, chika, daichi
):
    response = client_for(chika).post(
        reverse("moderation:report"),
        {"kind": "message", "id": message.pk, "rule": "spam", "details": "ads"},
    )
    assert response.status_code == 302
    found = Report.objects.get()
    assert (found.community, found.topic, found.target_member) == (
        club,
        topic,
        message.author,
    )

    queue = client_for(daichi).get(QUEUE)
    assert queue.status_code == 200
    html = queue.content.decode()
    assert "<title>Reports" in html
    # The reported text is shown escaped, never as markup.
    assert "Buy &lt;b&gt;cheap&lt;/b&gt; beans" in html
    assert "<b>cheap</b>" not in html
    assert "Reported by chika" in html
    for name in ("Dismiss", "Delete", "Mute author", "Ban author"):
        assert f">{name}</button>" in html

    response = client_for(daichi).post(resolve_url(found), {"outcome": "deleted"})
    assert response.status_code == 302
    found.refresh_from_db()
    assert (found.status, found.outcome, found.resolved_by) == (
        Report.Status.ACTIONED,
        Report.Outcome.DELETED,
        daichi,
    )
    assert found.resolved_at is not None
    assert Message.objects.get(pk=message.pk).is_deleted
    action = ModerationAction.objects.get(kind=ModerationAction.Kind.RESOLVE_REPORT)
    assert (action.actor, action.member, action.target_id, action.detail) == (
        daichi,
        message.author,
        message.pk,
        "deleted",
    )

    note = Notification.objects.get(recipient=chika, kind="report_resolved")
    assert note.actor_id is None
    page = notification_html(chika)
    assert (
        "Your report (Message in Shimokita Coffee Club): The content was removed"
        in page
    )
    assert "daichi" not in page
    assert "daichi" not in client_for(chika).get(QUEUE).content.decode()


def test_resolving_closes_every_open_report_of_the_same_thing(
    club, message, chika, aiko, daichi
):
    first = reports.report(chika, "message", message.pk, "spam")
    reports.report(aiko, "message", message.pk, "harassment")
    assert reports.resolve(daichi, first, "dismissed") == 2
    assert set(Report.objects.values_list("status", "outcome")) == {
        (Report.Status.DISMISSED, Report.Outcome.DISMISSED)
    }
    assert set(
        Notification.objects.filter(kind="report_resolved").values_list(
            "recipient__nickname", flat=True
        )
    ) == {"chika", "aiko"}
    assert ModerationAction.objects.get().kind == ModerationAction.Kind.DISMISS_REPORT
    assert not Message.objects.get(pk=message.pk).is_deleted
    # Resolved: no longer in the queue, nor to be resolved again.
    with pytest.raises(Http404):
        reports.access_report(daichi, first.pk)


def test_a_second_report_of_the_same_thing_is_refused(club, message, chika):
    reports.report(chika, "message", message.pk, "spam")
    response = client_for(chika).post(
        reverse("moderation:report"),
        {"kind": "message", "id": message.pk, "rule": "hate"},
    )
    assert response.status_code == 400
    assert "You have already reported this." in response.content.decode()
    assert Report.objects.count() == 1


def test_a_report_racing_the_same_one_is_refused_not_a_500(
    club, message, chika, monkeypatch
):
    reports.report(chika, "message", message.pk, "spam")
    # The other tab's report committed between the check and the insert.
    real_filter = Report.objects.filter
    monkeypatch.setattr(
        Report.objects, "filter", lambda *a, **k: real_filter(pk=-1), raising=False
    )
    with pytest.raises(NotAllowed, match="already reported"):
        reports.report(chika, "message", message.pk, "spam")
    monkeypatch.undo()
    assert Report.objects.count() == 1


def test_a_flood_of_reports_is_refused_with_429(club, topic, chika, ben):
    messages = [MessageFactory(topic=topic, author=ben) for _ in range(11)]
    client = client_for(chika)
    for each in messages[:10]:
        response = client.post(
            reverse("moderation:report"),
            {"kind": "message", "id": each.pk, "rule": "spam"},
        )
        assert response.status_code == 302
    response = client.post(
        reverse("moderation:report"),
        {"kind": "message", "id": messages[10].pk, "rule": "spam"},
    )
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "Try again in" in response.content.decode()
    assert Report.objects.count() == 10
    with pytest.raises(RateLimited):
        reports.report(chika, "message", messages[10].pk, "spam")


def test_one_cannot_report_a_message_of_a_secret_community_one_is_not_in(
    chika, ben, member_factory
):
    secret = CommunityFactory(owner=ben, join_policy=JoinPolicy.SECRET)
    hidden = MessageFactory(topic=TopicFactory(community=secret), author=ben)
    assert client_for(chika).get(report_url("message", hidden.pk)).status_code == 404
    response = client_for(chika).post(
        reverse("moderation:report"),
        {"kind": "message", "id": hidden.pk, "rule": "spam"},
    )
    assert response.status_code == 404
    assert not Report.objects.exists()


def test_one_cannot_report_a_friends_only_diary_entry_of_a_stranger(chika, ben):
    entry = Entry.objects.create(
        author=ben, title="Mine", body="b", audience=Audience.FRIENDS
    )
    with pytest.raises(Http404):
        reports.report(chika, "entry", entry.pk, "spam")
    assert client_for(chika).get(report_url("entry", entry.pk)).status_code == 404


@pytest.mark.parametrize("kind", ["nonsense", "message"])
def test_an_unknown_kind_or_id_is_not_found(club, chika, kind):
    assert client_for(chika).get(report_url(kind, "x")).status_code == 404
    assert client_for(chika).get(report_url(kind, 99999)).status_code == 404


def test_one_cannot_report_oneself_or_ones_own_content(club, message, ben):
    with pytest.raises(Forbidden):
        reports.report(ben, "message", message.pk, "spam")
    with pytest.raises(Forbidden):
        reports.report(ben, "member", ben.pk, "spam")
    assert not Report.objects.exists()


def test_bad_reason_or_long_details_are_refused(club, message, chika):
    client = client_for(chika)
    for data in ({"rule": "nope"}, {"rule": "spam", "details": "x" * 1001}):
        response = client.post(
            reverse("moderation:report"),
            {"kind": "message", "id": message.pk, **data},
        )
        assert response.status_code == 200  # the form, with its error
        assert 'class="errorlist' in response.content.decode()
    with pytest.raises(NotAllowed):
        reports.report(chika, "message", message.pk, "nope")
    assert not Report.objects.exists()


def test_the_form_names_the_reason_and_details(club, message, chika):
    html = client_for(chika).get(report_url("message", message.pk)).content.decode()
    assert "<legend>Reason</legend>" in html
    assert ">Details</label>" in html
    assert str(Rule.SPAM.label) in html


def test_an_htmx_report_answers_thanks_or_the_refusal(club, message, chika):
    client = client_for(chika)
    data = {"kind": "message", "id": message.pk, "rule": "spam"}
    response = client.post(reverse("moderation:report"), data, HTTP_HX_REQUEST="true")
    assert "Thank you" in response.content.decode()
    response = client.post(reverse("moderation:report"), data, HTTP_HX_REQUEST="true")
    assert response["X-Refused"] == "400"
    assert response.content.decode() == "You have already reported this."


# --- Whose queue ------------------------------------------------------------------


def test_a_plain_member_has_no_queue_and_no_nav_link(club, chika):
    client = client_for(chika)
    assert client.get(QUEUE).status_code == 403
    assert 'href="/reports/"' not in client.get(reverse("home")).content.decode()


def test_a_moderator_of_one_community_does_not_see_another_communitys_reports(
    club, message, chika, daichi, member_factory
):
    other_owner = member_factory(nickname="eri")
    other = CommunityFactory(owner=other_owner, name="Tea")
    Membership.objects.create(community=other, member=chika)
    elsewhere = MessageFactory(
        topic=TopicFactory(community=other), author=chika, body="tea spam"
    )
    reports.report(other_owner, "message", elsewhere.pk, "spam")
    reports.report(chika, "message", message.pk, "spam")

    html = client_for(daichi).get(QUEUE).content.decode()
    assert "Buy" in html
    assert "tea spam" not in html
    theirs = Report.objects.get(target_id=elsewhere.pk)
    response = client_for(daichi).post(resolve_url(theirs), {"outcome": "dismissed"})
    assert response.status_code == 404
    assert Report.objects.get(pk=theirs.pk).status == Report.Status.OPEN
    assert "tea spam" in client_for(other_owner).get(QUEUE).content.decode()


def test_staff_see_member_and_diary_reports_moderators_do_not(
    club, chika, ben, daichi, staff
):
    entry = Entry.objects.create(
        author=ben, title="Open diary", body="b", audience=Audience.MEMBERS
    )
    comment = Comment.objects.create(entry=entry, author=ben, body="a comment")
    reports.report(chika, "member", ben.pk, "harassment", "rude")
    reports.report(chika, "entry", entry.pk, "spam")
    reports.report(chika, "comment", comment.pk, "spam")
    assert set(Report.objects.values_list("community", flat=True)) == {None}

    html = client_for(staff).get(QUEUE).content.decode()
    assert "Open diary" in html and "a comment" in html and "rude" in html
    assert "Open diary" not in client_for(daichi).get(QUEUE).content.decode()

    found = Report.objects.get(target_kind=TargetKind.ENTRY)
    assert (
        client_for(daichi).post(resolve_url(found), {"outcome": "deleted"}).status_code
        == 404
    )
    response = client_for(staff).post(resolve_url(found), {"outcome": "deleted"})
    assert response.status_code == 302
    assert not Entry.objects.filter(pk=entry.pk).exists()


def test_a_moderator_cannot_mute_the_owner_from_the_queue(
    club, topic, aiko, chika, daichi
):
    owners = MessageFactory(topic=topic, author=aiko)
    found = reports.report(chika, "message", owners.pk, "spam")
    response = client_for(daichi).post(resolve_url(found), {"outcome": "muted"})
    assert response.status_code == 403
    assert membership(club, aiko).muted_until is None
    assert Report.objects.get(pk=found.pk).status == Report.Status.OPEN
    assert not Notification.objects.filter(kind="report_resolved").exists()


def test_mute_and_ban_from_the_queue_go_through_moderation_members(
    club, topic, message, ben, chika, daichi
):
    found = reports.report(chika, "message", message.pk, "harassment")
    response = client_for(daichi).post(resolve_url(found), {"outcome": "muted"})
    assert response.status_code == 302
    assert membership(club, ben).muted_until is not None
    other = MessageFactory(topic=topic, author=ben)
    found = reports.report(chika, "message", other.pk, "harassment")
    response = client_for(daichi).post(resolve_url(found), {"outcome": "banned"})
    assert response.status_code == 302
    assert membership(club, ben).status == Membership.Status.BANNED
    assert Report.objects.get(pk=found.pk).outcome == Report.Outcome.BANNED


def test_an_unknown_outcome_changes_nothing(club, message, chika, daichi):
    found = reports.report(chika, "message", message.pk, "spam")
    response = client_for(daichi).post(resolve_url(found), {"outcome": "explode"})
    assert response.status_code == 400
    assert Report.objects.get(pk=found.pk).status == Report.Status.OPEN
    assert not ModerationAction.objects.exists()


def test_the_queue_keeps_its_query_count_flat(club, topic, daichi, member_factory):
    def add(n):
        for _ in range(n):
            reporter = member_factory()
            Membership.objects.create(community=club, member=reporter)
            author = member_factory()
            Membership.objects.create(community=club, member=author)
            reports.report(
                reporter,
                "message",
                MessageFactory(topic=topic, author=author).pk,
                "spam",
            )
        entry = Entry.objects.create(
            author=author, title="t", body="b", audience="members"
        )
        reports.report(reporter, "entry", entry.pk, "spam")

    client = client_for(daichi)
    add(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(QUEUE).status_code == 200
    add(10)
    with CaptureQueriesContext(connection) as many:
        assert client.get(QUEUE).status_code == 200
    assert len(few) == len(many), [q["sql"] for q in many.captured_queries]


def test_the_nav_badge_counts_open_reports_in_one_query(
    club, message, chika, daichi, rf, django_assert_num_queries
):
    from moderation.report_views import nav_state

    assert nav_state(daichi) == (True, 0)
    reports.report(chika, "message", message.pk, "spam")
    with django_assert_num_queries(1):
        assert nav_state(daichi) == (True, 1)
    with django_assert_num_queries(1):
        assert nav_state(chika) == (False, 0)
    html = client_for(daichi).get(reverse("home")).content.decode()
    assert re.search(r'<span id="report-badge" class="badge">1</span>', html)
    assert '<span id="report-label-en" hidden>Reports, 1 open</span>' in html
    assert 'aria-labelledby="report-label-en"' in html


def test_the_badge_fragment_answers_htmx(club, message, chika, daichi):
    reports.report(chika, "message", message.pk, "spam")
    response = client_for(daichi).get(QUEUE + "?badge=1", HTTP_HX_REQUEST="true")
    assert '<span id="report-badge" class="badge">1</span>' in response.content.decode()
    listing = client_for(daichi).get(QUEUE, HTTP_HX_REQUEST="true").content.decode()
    assert listing.lstrip().startswith('<div id="report-queue"')
    assert "<title>" not in listing


# --- The topic page's panel -------------------------------------------------------


def test_the_topic_panel_shows_moderators_this_topics_reports(
    club, topic, message, chika, daichi, ben, member_factory
):
    reports.report(chika, "message", message.pk, "spam", "look")
    elsewhere = MessageFactory(
        topic=TopicFactory(community=club), author=ben, body="other topic"
    )
    reports.report(chika, "message", elsewhere.pk, "spam")
    url = reverse("moderation:topic-panel", kwargs={"topic_id": topic.pk})
    html = client_for(daichi).get(url).content.decode()
    assert "Buy &lt;b&gt;cheap" in html
    assert "other topic" not in html
    assert 'href="/reports/"' in html
    # It refetches itself on each live report notice (static/js/reports.js).
    assert f'hx-get="{url}" hx-trigger="reports-changed from:body"' in html
    assert client_for(chika).get(url).status_code == 403
    stranger = member_factory(nickname="stranger")
    assert client_for(stranger).get(url).status_code == 404


def test_report_notifications_stay_visible_only_to_the_reporter(
    club, message, chika, daichi
):
    found = reports.report(chika, "message", message.pk, "spam")
    reports.resolve(daichi, found, "dismissed")
    assert notifications.unread_count(chika) == 1
    assert notifications.unread_count(daichi) == 0


# --- Events and photos ------------------------------------------------------------


def test_an_event_report_goes_to_its_communitys_moderators_and_delete_cancels_it(
    club, ben, chika, daichi
):
    from datetime import timedelta

    from django.utils import timezone

    from events.models import Event

    starts = timezone.now() + timedelta(days=3)
    event = Event.objects.create(
        community=club,
        organiser=ben,
        title="Free beans",
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
    )
    found = reports.report(chika, "event", event.pk, "spam")
    assert (found.community, found.target_member) == (club, ben)
    assert "Free beans" in client_for(daichi).get(QUEUE).content.decode()
    response = client_for(daichi).post(resolve_url(found), {"outcome": "deleted"})
    assert response.status_code == 302
    assert Event.objects.get(pk=event.pk).is_cancelled


def test_a_photo_report_goes_to_staff_who_may_remove_it(club, ben, chika, staff):
    from photos.models import Album, Photo

    album = Album.objects.create(owner=ben, title="Trip", audience=Audience.MEMBERS)
    photo = Photo.objects.create(
        owner=ben,
        album=album,
        caption="Beach <script>",
        thumbnail="photos/t.jpg",
        display="photos/d.jpg",
    )
    found = reports.report(chika, "photo", photo.pk, "private")
    assert (found.community, found.target_member) == (None, ben)
    html = client_for(staff).get(QUEUE).content.decode()
    assert "Beach &lt;script&gt;" in html
    # No community: no one to mute or ban the author in.
    assert ">Mute author</button>" not in html
    response = client_for(staff).post(resolve_url(found), {"outcome": "muted"})
    assert response.status_code == 400
    response = client_for(staff).post(resolve_url(found), {"outcome": "deleted"})
    assert response.status_code == 302
    assert not Photo.objects.filter(pk=photo.pk).exists()
    page = notification_html(chika)
    assert "Your report (Photo): The content was removed" in page
    assert "staffer" not in page
