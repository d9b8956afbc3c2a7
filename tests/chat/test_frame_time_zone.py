"""A live frame is rendered once for members of every time zone: always in
the site's zone, never in the zone of whoever's request scheduled it
(project/timezones.py activates each member's own for their requests)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from chat import fragments
from tests.factories import MessageFactory


@pytest.mark.django_db
def test_a_live_frame_is_rendered_in_the_sites_zone_whoever_scheduled_it(settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    message = MessageFactory(created_at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC))

    with timezone.override(ZoneInfo("Europe/London")):
        frames = fragments.render_per_language(
            "message", fragments.message_context(message)
        )

    for html in frames.values():
        assert 'datetime="2026-12-01T12:00:00+09:00"' in html
        assert "03:00" not in html
