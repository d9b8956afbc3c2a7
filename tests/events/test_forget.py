"""A member who can no longer see an event loses their answer to it, and
their seat goes to the waitlist (events/signals.py ->
events.actions.forget_unseen_answers): leaving, a ban by save or by
QuerySet.update(), a block between them and the organiser, a deactivation.
Answers to events already over stay: they are what happened."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.actions import block_member
from communities import actions as community_actions
from communities.models import Membership
from events import actions
from events.models import RSVP
from presence.models import Notification
from tests.events.conftest import make_event

GOING, WAITLISTED = "going", "waitlisted"


@pytest.fixture
def full(club, ben, chika):
    """One seat, ben in it, chika waiting."""
    event = make_event(club, capacity=1)
    actions.answer(ben, event, GOING)
    actions.answer(chika, event, GOING)
    return event


def statuses(event) -> dict:
    return dict(
        RSVP.objects.filter(event=event).values_list("member__nickname", "status")
    )


def assert_ben_gone_and_chika_promoted(event):
    assert statuses(event) == {"chika": GOING}
    event.refresh_from_db()
    assert (event.seats_taken, event.going_count, event.waitlist_count) == (1, 1, 0)
    assert Notification.objects.filter(
        recipient__nickname="chika", kind="event_promoted", target_id=event.pk
    ).exists()


@pytest.mark.django_db
def test_leaving_the_community_gives_the_seat_to_the_waitlist(full, club, ben):
    community_actions.leave_community(member=ben, community=club)

    assert_ben_gone_and_chika_promoted(full)


@pytest.mark.django_db
def test_a_ban_saved_on_the_membership_takes_the_answer_back(full, club, ben):
    membership = Membership.objects.get(community=club, member=ben)
    membership.status = Membership.Status.BANNED
    membership.save()

    assert_ben_gone_and_chika_promoted(full)


@pytest.mark.django_db
def test_a_ban_by_queryset_update_takes_the_answer_back(full, club, ben):
    Membership.objects.filter(community=club, member=ben).update(
        status=Membership.Status.BANNED
    )

    assert_ben_gone_and_chika_promoted(full)


@pytest.mark.django_db
@pytest.mark.parametrize("direction", ["member blocks organiser", "organiser blocks"])
def test_a_block_with_the_organiser_takes_the_answer_back(full, aiko, ben, direction):
    if direction == "organiser blocks":
        block_member(member=aiko, other=ben)
    else:
        block_member(member=ben, other=aiko)

    assert_ben_gone_and_chika_promoted(full)


@pytest.mark.django_db
def test_a_block_between_two_attendees_changes_no_answer(full, ben, chika):
    block_member(member=ben, other=chika)

    assert statuses(full) == {"ben": GOING, "chika": WAITLISTED}


@pytest.mark.django_db
def test_a_deactivated_member_loses_their_seat(full, ben):
    ben.is_active = False
    ben.save()

    assert_ben_gone_and_chika_promoted(full)


@pytest.mark.django_db
def test_answers_elsewhere_and_to_past_events_stay(full, club, aiko, ben, daichi):
    other_club = community_actions.create_community(
        owner=daichi,
        name="Other club",
        category="other",
        join_policy="open",
        topic_policy="members",
    )
    community_actions.join_community(member=ben, community=other_club)
    elsewhere = make_event(other_club, daichi)
    actions.answer(ben, elsewhere, GOING)
    past = make_event(
        club,
        starts_at=timezone.now() - timedelta(days=2),
        ends_at=timezone.now() - timedelta(days=2) + timedelta(hours=2),
    )
    RSVP.objects.create(event=past, member=ben, status=GOING)

    community_actions.leave_community(member=ben, community=club)

    assert statuses(elsewhere) == {"ben": GOING}
    assert statuses(past) == {"ben": GOING}
    assert_ben_gone_and_chika_promoted(full)
