"""The events' notification kinds (events/kinds.py): each made by its real
action, its line on the recipient's notifications page leading to the event,
and gone as soon as the recipient may no longer see the event (they left
the community, or a block stands between them and the organiser)."""

import pytest
from django.urls import reverse

from accounts.actions import block_member, make_friends
from communities import actions as community_actions
from events import actions
from presence import notifications
from presence.models import Notification
from tests.conftest import client_for
from tests.events.conftest import make_event
from tests.presence.test_notifications import _page_queries, page_text

TITLE = "Tasting walk"


def promoted(club, aiko, ben, chika):
    event = make_event(club, capacity=1)
    actions.answer(ben, event, "going")
    actions.answer(chika, event, "going")
    actions.withdraw(ben, event)
    return event, f"You have a seat at “{TITLE}”"


def changed(club, aiko, ben, chika):
    event = make_event(club)
    actions.answer(chika, event, "going")
    actions.update_event(aiko, event, place="North exit")
    return event, f"aiko changed the time or place of “{TITLE}”"


def cancelled(club, aiko, ben, chika):
    event = make_event(club)
    actions.answer(chika, event, "not_going")
    actions.cancel_event(aiko, event)
    return event, f"aiko cancelled “{TITLE}”"


def message(club, aiko, ben, chika):
    event = make_event(club)
    actions.answer(chika, event, "going")
    actions.message_going(aiko, event, "Bring a cup.")
    return event, f"aiko wrote to everyone going to “{TITLE}”: Bring a cup."


def invitation(club, aiko, ben, chika):
    # From ben, who organises it (inviting is an organiser's tool), not the
    # community's owner: the line goes with the event and its sender.
    make_friends(ben, chika)
    event = make_event(club, ben)
    assert actions.invite_friends(ben, event, [chika.pk]) == 1
    return event, f"ben invited you to “{TITLE}”"


MADE_BY = {
    "event_promoted": promoted,
    "event_changed": changed,
    "event_cancelled": cancelled,
    "event_message": message,
    "event_invitation": invitation,
}


def lose_sight(how, club, event, chika):
    if how == "left":
        community_actions.leave_community(member=chika, community=club)
    else:
        block_member(member=chika, other=event.organiser)


@pytest.mark.parametrize("how", ["left", "blocked the organiser"])
@pytest.mark.parametrize("kind", sorted(MADE_BY))
def test_an_event_line_shows_while_the_recipient_may_see_the_event(
    club, aiko, ben, chika, kind, how
):
    event, line = MADE_BY[kind](club, aiko, ben, chika)
    row = Notification.objects.get(recipient=chika)
    assert row.kind == kind
    chika_client = client_for(chika)

    assert line in page_text(chika_client)
    assert notifications.open_url(chika, row.pk) == reverse(
        "events:detail", kwargs={"event_id": event.pk}
    )

    lose_sight(how, club, event, chika)

    assert TITLE not in page_text(chika_client)
    assert notifications.unread_count(chika) == 0
    assert notifications.open_url(chika, row.pk) is None


def test_invitations_to_one_event_make_one_line(club, aiko, ben, chika):
    # ben organises it, aiko owns the community: both may invite.
    for friend in (ben, aiko):
        make_friends(friend, chika)
    event = make_event(club, ben)
    actions.invite_friends(ben, event, [chika.pk])
    actions.invite_friends(aiko, event, [chika.pk])
    actions.invite_friends(ben, event, [chika.pk])  # again: moves up, once

    text = page_text(client_for(chika))

    assert f"ben and 1 other invited you to “{TITLE}”" in text
    assert Notification.objects.filter(recipient=chika).count() == 2


def test_each_kind_can_be_turned_off_in_the_settings(club, chika):
    page = client_for(chika).get(reverse("presence:notification-settings"))

    html = page.content.decode()
    for label in (
        "Events: a seat for me",
        "Events: a new time or place",
        "Events: cancelled",
        "Events: messages from organisers",
        "Events: invitations",
    ):
        assert label in html


def test_the_notifications_page_stays_flat_as_event_lines_grow(
    club, aiko, ben, chika, django_assert_num_queries
):
    chika_client = client_for(chika)

    def fill(n):
        for _ in range(n):
            for make in MADE_BY.values():
                make(club, aiko, ben, chika)

    fill(1)
    chika_client.get(reverse("presence:notifications"))  # the session, warmed
    with_five = _page_queries(chika_client)
    fill(3)

    with django_assert_num_queries(with_five):
        chika_client.get(reverse("presence:notifications"))
