"""The topic page passes axe (tests/e2e/axe.py) with no violation: on a
phone (360 x 740, touch) and a desktop (1280 x 800), in English and
Japanese, in the light and the dark colour scheme; with messages of several
authors and days, one's own among them, a reply, a like, an edited and a
deleted message, a mention, a pin, and the "New messages" divider."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat import text
from communities.models import TopicRead
from tests.e2e import axe
from tests.e2e.pages import DESKTOP, PHONE, in_japanese, log_in, open_topic
from tests.factories import MessageFactory, TopicFactory, coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def room(aiko, ben):
    community = coffee_club(aiko, ben)
    topic = TopicFactory(community=community, title="Morning brews", created_by=aiko)
    now = timezone.now()
    bodies = [
        (aiko, "Welcome, everyone!", now - timedelta(days=2)),
        (ben, "Thanks! Pour-over here.", now - timedelta(days=1, minutes=5)),
        (ben, "Anyone tried the Kenyan beans?", now - timedelta(days=1, minutes=4)),
        (aiko, "Yes, @ben, bright and fruity.", now - timedelta(minutes=30)),
        (ben, "Sounds good.", now - timedelta(minutes=2)),
    ]
    messages = []
    for author, body, at in bodies:
        mentioned = [ben] if "@ben" in body else []
        messages.append(
            MessageFactory(
                topic=topic,
                author=author,
                body=body,
                body_html=text.render(body, mentioned),
                created_at=at,
            )
        )
    messages[1].like_count = 2
    messages[1].edited_at = now - timedelta(days=1)
    messages[1].save()
    MessageFactory(
        topic=topic,
        author=ben,
        body="gone",
        body_html="gone",
        deleted_at=now,
        created_at=now - timedelta(minutes=1),
    )
    TopicRead.objects.create(topic=topic, member=aiko, last_read_id=messages[2].pk)
    return topic


@pytest.mark.parametrize(
    "device,language",
    [(PHONE, "ja"), (PHONE, "en"), (DESKTOP, "en"), (DESKTOP, "ja")],
    ids=["phone-ja", "phone-en", "desktop-en", "desktop-ja"],
)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_topic_page_has_no_axe_violations(
    new_context, room, aiko, device, language, scheme
):
    context = new_context(**device, color_scheme=scheme)
    page = context.new_page()
    log_in(page, aiko.nickname)
    if language == "ja":
        in_japanese(page)
    open_topic(page, room)
    found = axe.violations(page)
    assert found == [], "\n".join(found)


# The pages around the room, in the dark scheme on a phone (the tab bar, the
# "More" sheet) and the light one on a desktop.
AROUND = [
    "/",
    "/communities/",
    "community",
    "/notifications/",
    "/friends/",
    "/events/",
    "me",
]


@pytest.mark.parametrize("where", AROUND)
@pytest.mark.parametrize(
    "device,scheme",
    [(PHONE, "dark"), (DESKTOP, "light")],
    ids=["phone-dark", "desktop-light"],
)
def test_the_pages_around_the_room_have_no_axe_violations(
    new_context, room, aiko, where, device, scheme
):
    page = new_context(**device, color_scheme=scheme).new_page()
    log_in(page, aiko.nickname)
    url = {
        "community": room.community.get_absolute_url(),
        "me": aiko.get_absolute_url(),
    }.get(where, where)
    page.goto(url)
    if device is PHONE:
        page.get_by_role("button", name="More").click()
    found = axe.violations(page)
    assert found == [], "\n".join(found)
