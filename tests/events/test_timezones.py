"""Each member sees and enters times in their own zone (project/timezones.py,
Member.time_zone chosen on the profile page); anonymous visitors and a zone
name that is no zone get the site's (Asia/Tokyo)."""

import re
import zoneinfo
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.utils import timezone

from project.timezones import TimeZoneMiddleware
from tests.conftest import client_for
from tests.events.pages_fixtures import labelled_controls
from tests.factories import MessageFactory, TopicFactory

pytestmark = pytest.mark.django_db

# 09:00 UTC: 18:00 in Tokyo, 10:00 in London (summer time).
INSTANT = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)


def _message_time(client, topic) -> str:
    """The full time of the topic's one message, as the page writes it."""
    html = client.get(topic.get_absolute_url()).text
    return re.search(r'<time datetime="[^"]*" title="([^"]*)"', html)[1]


@pytest.fixture
def topic(club, aiko):
    topic = TopicFactory(community=club, title="Zones")
    MessageFactory(topic=topic, author=aiko, body="hello", created_at=INSTANT)
    return topic


def test_a_page_shows_times_in_the_members_own_zone(topic, aiko, ben):
    ben.time_zone = "Europe/London"
    ben.save()

    assert _message_time(client_for(aiko), topic) == "1 Jul 2024, 18:00"
    assert _message_time(client_for(ben), topic) == "1 Jul 2024, 10:00"


def test_a_zone_name_that_is_no_zone_falls_back_to_the_sites(topic, aiko):
    aiko.time_zone = "Mars/Olympus_Mons"
    aiko.save()

    assert _message_time(client_for(aiko), topic) == "1 Jul 2024, 18:00"


def test_the_zone_does_not_outlive_the_request(club, aiko):
    aiko.time_zone = "America/New_York"
    aiko.save()

    client_for(aiko).get("/settings/profile/")

    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_anonymous_requests_use_the_sites_zone(aiko, rf):
    seen = []

    def view(request):
        seen.append(timezone.get_current_timezone_name())
        return HttpResponse()

    def through_middleware(request):
        middleware.process_view(request, view, (), {})
        return view(request)

    middleware = TimeZoneMiddleware(through_middleware)
    aiko.time_zone = "Pacific/Auckland"
    for user in (aiko, AnonymousUser()):
        request = rf.get("/")
        request.user = user
        middleware(request)

    assert seen == ["Pacific/Auckland", settings.TIME_ZONE]


def test_profile_page_has_a_time_zone_select_of_every_zone_sorted(aiko):
    html = client_for(aiko).get("/settings/profile/").text

    control = labelled_controls(html)["Time zone"]
    assert control["tag"] == "select"
    select = re.search(r'<select name="time_zone".*?</select>', html, re.S)[0]
    options = re.findall(r'<option value="([^"]*)"', select)
    assert options == sorted(zoneinfo.available_timezones())
    assert 'value="Asia/Tokyo" selected' in select


def test_a_member_chooses_their_time_zone(aiko):
    response = client_for(aiko).post(
        "/settings/profile/", {"introduction": "", "time_zone": "Europe/London"}
    )

    assert response.status_code == 302
    aiko.refresh_from_db()
    assert aiko.time_zone == "Europe/London"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "utc"])
def test_a_time_zone_not_in_the_list_is_refused_and_nothing_changes(aiko, zone):
    response = client_for(aiko).post(
        "/settings/profile/", {"introduction": "changed", "time_zone": zone}
    )

    assert response.status_code == 200
    assert "Select a valid choice." in response.text
    aiko.refresh_from_db()
    assert aiko.time_zone == "Asia/Tokyo"
    assert aiko.introduction == ""


def test_a_profile_form_without_the_zone_keeps_it(aiko):
    aiko.time_zone = "Europe/London"
    aiko.save()

    client_for(aiko).post("/settings/profile/", {"introduction": "hello"})

    aiko.refresh_from_db()
    assert aiko.time_zone == "Europe/London"
    assert aiko.introduction == "hello"


def test_an_address_that_does_not_exist_reads_no_session_for_the_zone(aiko):
    response = client_for(aiko).get("/no-such-page-here")

    assert response.status_code == 404
    assert "Cookie" not in response.get("Vary", "")
