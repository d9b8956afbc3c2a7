"""Who may see and do what with an event, through every route and the live
stream, cell by cell (docs/events.md, "Who sees an event").

Viewers: the organiser (ben, a plain member who made the event), the
community's owner (aiko) and a moderator (daichi), a member (chika), and
those who may not see it: strangers, a member who asked to join, an invitee,
a banned member, a member the organiser blocked and one who blocked the
organiser. Each cell says what the answer is, and the writes are checked by
what they left in the database, not by their status alone.
"""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from accounts.actions import block_member
from chat import broadcast
from communities.models import Membership
from events.models import RSVP, Event, EventMessage
from project.asgi import application
from tests.chat.conftest import live_layer, tab_headers  # noqa: F401
from tests.communities import make_community, put
from tests.conftest import client_for
from tests.events.conftest import make_event

RUNNERS = {"organiser", "owner", "moderator"}
INSIDE = RUNNERS | {"member"}
OUTSIDE = {"stranger", "pending", "invited", "banned", "blocked", "blocker"}
VIEWERS = sorted(INSIDE | OUTSIDE) + ["anonymous"]
POLICIES = ["open", "secret"]
TITLE = "Saturday tasting walk"


def _world(policy, member_factory):
    aiko = member_factory(nickname="aiko")
    community = make_community(aiko, name="Shimokita", join_policy=policy)
    people = {"owner": aiko}
    for viewer in sorted((INSIDE | OUTSIDE) - {"owner"}):
        people[viewer] = member_factory(nickname=viewer)
    put(community, people["organiser"])
    put(community, people["moderator"], role=Membership.Role.MODERATOR)
    put(community, people["member"])
    put(community, people["blocked"])
    put(community, people["blocker"])
    for status in ("pending", "invited", "banned"):
        put(community, people[status], status=status)
    event = make_event(community, people["organiser"], title=TITLE, capacity=10)
    block_member(member=people["organiser"], other=people["blocked"])
    block_member(member=people["blocker"], other=people["organiser"])
    return event, people


@pytest.fixture
def world(member_factory):
    return lambda policy="open": _world(policy, member_factory)


def client_of(viewer, people) -> Client:
    return Client() if viewer == "anonymous" else client_for(people[viewer])


def expect(viewer, *, inside, runners=None) -> object:
    """What `viewer` gets: `runners` for those who may run the event (when
    given), `inside` for the others who may see it, 404 for everyone else,
    and the login page for anonymous visitors."""
    if viewer == "anonymous":
        return "login"
    if runners is not None and viewer in RUNNERS:
        return runners
    if viewer in INSIDE:
        return inside
    return 404


def answer_of(response) -> object:
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return "login"
    return response.status_code


# --- Pages: who may see --------------------------------------------------------------

PAGES = ["detail", "attendees", "ics", "rsvp"]


@pytest.mark.django_db
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("viewer", VIEWERS)
def test_who_sees_each_page_of_an_event(world, viewer, page, policy):
    event, people = world(policy)
    url = reverse(f"events:{page}", kwargs={"event_id": event.pk})

    response = client_of(viewer, people).get(url, HTTP_HX_REQUEST="true")

    assert answer_of(response) == expect(viewer, inside=200)
    if response.status_code == 404:
        assert TITLE not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("viewer", VIEWERS)
def test_a_missing_event_answers_as_a_hidden_one(world, viewer):
    event, people = world()
    url = reverse("events:detail", kwargs={"event_id": event.pk + 1000})

    response = client_of(viewer, people).get(url)

    assert answer_of(response) == ("login" if viewer == "anonymous" else 404)


# --- Answers: who may answer ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("viewer", VIEWERS)
def test_who_may_answer(world, viewer):
    event, people = world()
    url = reverse("events:rsvp", kwargs={"event_id": event.pk})

    response = client_of(viewer, people).post(url, {"status": "going"})

    answered = set(RSVP.objects.filter(event=event).values_list("member", flat=True))
    if viewer in INSIDE:
        assert response.status_code == 302
        assert answered == {people[viewer].pk}
    else:
        assert answer_of(response) == expect(viewer, inside=None)
        assert answered == set()


# --- The organiser's tools: who may run the event ------------------------------------

TOOLS = {
    # name: (POST data, what a successful POST leaves in the database)
    "edit": (
        {
            "title": "Renamed walk",
            "starts_at": "2099-01-10T10:00",
            "ends_at": "2099-01-10T12:00",
            "guests_allowed": "0",
            "capacity": "10",
        },
        lambda event: Event.objects.get(pk=event.pk).title == "Renamed walk",
    ),
    "cancel": (
        {},
        lambda event: Event.objects.get(pk=event.pk).cancelled_at is not None,
    ),
    "close": (
        {},
        lambda event: Event.objects.get(pk=event.pk).rsvps_closed_at is not None,
    ),
    "message": (
        {"body": "Meet at the north exit."},
        lambda event: EventMessage.objects.filter(event=event).exists(),
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("tool", [*TOOLS, "invite", "attendees-csv"])
@pytest.mark.parametrize("viewer", VIEWERS)
def test_who_sees_the_organiser_tools(world, viewer, tool):
    event, people = world()
    url = reverse(f"events:{tool}", kwargs={"event_id": event.pk})

    response = client_of(viewer, people).get(url)

    assert answer_of(response) == expect(viewer, inside=403, runners=200)
    if response.status_code == 404:
        assert TITLE not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("viewer", VIEWERS)
def test_who_may_use_the_organiser_tools(world, viewer, tool):
    event, people = world()
    data, done = TOOLS[tool]
    url = reverse(f"events:{tool}", kwargs={"event_id": event.pk})

    response = client_of(viewer, people).post(url, data)

    assert answer_of(response) == expect(viewer, inside=403, runners=302)
    assert done(event) == (viewer in RUNNERS)


# --- The live stream -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("policy", POLICIES)
async def test_who_may_watch_an_event_live(world, live_layer, policy):  # noqa: F811
    event, people = await database_sync_to_async(world)(policy)
    keys = {"anonymous": None}
    for viewer in VIEWERS[:-1]:
        client = await database_sync_to_async(client_of)(viewer, people)
        keys[viewer] = client.session.session_key
    got = {}
    for viewer in VIEWERS:
        socket = WebsocketCommunicator(
            application,
            f"/ws/live/?event={event.pk}&lang=en",
            headers=tab_headers(keys[viewer]),
        )
        connected, _ = await socket.connect(timeout=3)
        assert connected, viewer
        if await socket.receive_nothing(timeout=0.2):
            got[viewer] = "open"
            await socket.disconnect()
        else:
            output = await socket.receive_output(timeout=1)
            got[viewer] = output.get("code")
    assert got == {
        viewer: (
            broadcast.CLOSE_UNAUTHENTICATED
            if viewer == "anonymous"
            else "open"
            if viewer in INSIDE
            else broadcast.CLOSE_FORBIDDEN
        )
        for viewer in VIEWERS
    }
