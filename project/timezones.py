"""Each member sees and enters times in their own zone (Member.time_zone,
Asia/Tokyo unless they changed it in their profile).

TimeZoneMiddleware activates that zone for the request, so Django's form
fields read a typed time in it and `timezone.localtime` (the `when` filters)
writes times in it. Anonymous requests, and a stored name that is no zone,
use the site's zone (TIME_ZONE). Fragments rendered once for many members
(the live pushes) are rendered outside any request, in the site's zone.
"""

import zoneinfo
from functools import cache

from django.conf import settings
from django.utils import timezone


@cache
def zone_names() -> tuple[str, ...]:
    """Every zone name a member may choose, sorted (read once: listing them
    walks the zone database)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def zone_named(name: str) -> zoneinfo.ZoneInfo:
    """The zone called `name`, or the site's zone when there is none such."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def zone_of(member) -> zoneinfo.ZoneInfo:
    return zone_named(member.time_zone)


class TimeZoneMiddleware:
    """After AuthenticationMiddleware (it reads request.user).

    The zone is activated when a view is about to run, not for every request:
    an address that does not exist reads no session (so its 404 has no
    "Vary: Cookie", as project/metrics.py relies on), and LoginRequired-
    Middleware reads the member there anyway."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            # A thread serves other requests after this one (and a test
            # client's thread runs the test): none may inherit the zone.
            timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(zone_of(user))
