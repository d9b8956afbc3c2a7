"""What a request may carry, checked once for every view: bad input gets a 400
with a message that says what was wrong, and changes nothing.

BadInputMiddleware looks at the path, every query and form parameter (names
and values) and the cookies before any view runs. A view that reads a number
or a date from a parameter uses int_param or datetime_param, whose BadInput
the middleware answers the same way. Without this, a NUL character reached
PostgreSQL (which refuses it: a 500) and a date at the end of the calendar
overflowed when converted to UTC (a 500 on SQLite).
"""

import re
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from project.refusals import is_htmx, refusal

# Control characters (C0, DEL, C1) and lone surrogates, which no text a person
# types contains and PostgreSQL or UTF-8 cannot store. A form's text may keep
# tab and line breaks; a path, a query or a name may not.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Header values (cookies) reach Django as bytes decoded as latin-1, so UTF-8
# text in them shows up as U+0080..U+00FF: only C0 and DEL are control there.
_CONTROL_IN_HEADER = re.compile(r"[\x00-\x1f\x7f]")

# Longer than anything Enishi makes or accepts: its longest text field is
# 5,000 characters (a community's description), its longest URL far shorter.
MAX_PATH = 2_000
MAX_NAME = 100
MAX_QUERY_VALUE = 2_000
MAX_FORM_VALUE = 10_000

# Ids are PostgreSQL bigints.
MAX_ID = 2**63 - 1
# Margins from the ends of Python's calendar (years 1 and 9999), so that moving
# a time to another zone or adding a day to it cannot overflow.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class BadInput(Exception):
    """A request the site cannot use; str() tells the member why (answered 400
    by BadInputMiddleware, from a view too)."""


def _shown(name: str) -> str:
    return name if len(name) <= 40 else name[:40] + "…"


def _check_name(name: str) -> None:
    if len(name) > MAX_NAME or _CONTROL.search(name):
        raise BadInput(_("A field name in the request is too long or not text."))


def _check_values(params, *, max_length: int, control: re.Pattern) -> None:
    for name, values in params.lists():
        _check_name(name)
        for value in values:
            if control.search(value):
                raise BadInput(
                    _("“%(name)s” contains a control character, which is not allowed.")
                    % {"name": _shown(name)}
                )
            if len(value) > max_length:
                raise BadInput(
                    _("“%(name)s” is too long (at most %(max)d characters).")
                    % {"name": _shown(name), "max": max_length}
                )


def check_request(request) -> list[str]:
    """Raise BadInput for a path, parameter or form field the site refuses.
    Returns the names of cookies that are not text, which the answer drops."""
    if len(request.path) > MAX_PATH:
        raise BadInput(
            _("The address is too long (at most %(max)d characters).")
            % {"max": MAX_PATH}
        )
    if _CONTROL.search(request.path):
        raise BadInput(_("The address contains a control character."))
    try:
        query = request.GET
    except TooManyFieldsSent:
        raise BadInput(_("The address has too many parameters.")) from None
    _check_values(query, max_length=MAX_QUERY_VALUE, control=_CONTROL)
    if request.method == "POST":
        try:
            form, files = request.POST, request.FILES
        except RequestDataTooBig:
            # DATA_UPLOAD_MAX_MEMORY_SIZE: the fields besides the files.
            raise BadInput(_("The form is too large.")) from None
        except (TooManyFieldsSent, TooManyFilesSent):
            raise BadInput(_("The form has too many fields or files.")) from None
        _check_values(form, max_length=MAX_FORM_VALUE, control=_CONTROL_IN_TEXT)
        for name in files:
            _check_name(name)
    return [
        name
        for name in _cookies_read()
        if _CONTROL_IN_HEADER.search(request.COOKIES.get(name, ""))
    ]


def _cookies_read() -> list[str]:
    """The cookies this site reads. Others (another app's on a parent domain)
    are none of its business, and it could not delete them anyway."""
    return [
        settings.SESSION_COOKIE_NAME,
        settings.CSRF_COOKIE_NAME,
        settings.LANGUAGE_COOKIE_NAME,
    ]


def int_param(params, name: str, *, minimum: int = 0, maximum: int = MAX_ID):
    """The whole number `params[name]` (None when absent or empty), or
    BadInput when it is not one or outside minimum..maximum (ids by default)."""
    value = params.get(name, "")
    if value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not minimum <= number <= maximum:
        raise BadInput(
            _("“%(name)s” must be a whole number from %(min)d to %(max)d.")
            % {"name": _shown(name), "min": minimum, "max": maximum}
        )
    return number


MAX_RANGES = 50


def ranges_param(params, name: str) -> list[tuple[int, int]]:
    """Id ranges written `12-15,18,20-31` (at most MAX_RANGES; empty when
    absent), each as (first, last); BadInput for anything else."""
    value = params.get(name, "")
    if value == "":
        return []
    ranges = []
    try:
        for part in value.split(","):
            first, _dash, last = part.partition("-")
            first = int(first)
            last = int(last) if _dash else first
            if not 0 <= first <= last <= MAX_ID:
                raise ValueError(part)
            ranges.append((first, last))
    except ValueError:
        ranges = None
    if ranges is None or len(ranges) > MAX_RANGES:
        raise BadInput(
            _("“%(name)s” must be at most %(max)d id ranges such as 12-15,18.")
            % {"name": _shown(name), "max": MAX_RANGES}
        )
    return ranges


def datetime_param(params, name: str):
    """The date and time `params[name]` in ISO 8601 (None when absent or empty),
    aware and in UTC; BadInput when it is not one or is outside the years the
    site can compute with (EARLIEST..LATEST). A time without a zone is in the
    site's zone."""
    value = params.get(name, "")
    if value == "":
        return None
    try:
        moment = parse_datetime(value)
        if moment is not None:
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        raise BadInput(
            _(
                "“%(name)s” must be a date and time (ISO 8601) between the years "
                "1900 and 9000."
            )
            % {"name": _shown(name)}
        )
    return moment


def local_path(request, value: str) -> str | None:
    """`value` when it is a path on this site (a `next` to come back to after
    a form), else None. Only a path: redirect() would take any other text for
    a URL name and try to reverse it (`next=1` was a NoReverseMatch, a 500)."""
    if value.startswith("/") and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return None


def bad_input_response(request, message: str) -> HttpResponse:
    """The refusal: plain text for htmx (shown where the request came from,
    as project/refusals.py answers htmx), a minimal page otherwise. It reads
    nothing from the session or the database, so it is safe whatever the
    request carried."""
    if is_htmx(request):
        # As every refusal of an htmx request (project/refusals.py): 200 with
        # the reason and X-Refused, so a pasted control character in the
        # composer is shown there and not logged as a failed load.
        return refusal(request, message, 400)
    page = render_to_string("400.html", {"message": message})
    return HttpResponse(page, status=400)


class BadInputMiddleware:
    """Answers 400 before any view for input check_request refuses, and for
    BadInput raised by a view. Placed after LocaleMiddleware, so the message
    is in the member's language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            bad_cookies = check_request(request)
        except BadInput as exc:
            return bad_input_response(request, str(exc))
        if bad_cookies:
            # Such a cookie was not set by this site (a NUL in the session
            # cookie would reach the database): drop it, so the next request
            # works again.
            response = bad_input_response(
                request,
                _(
                    "Your browser sent a damaged cookie. It was removed: reload "
                    "the page."
                ),
            )
            for name in bad_cookies:
                response.delete_cookie(name)
            return response
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, BadInput):
            return bad_input_response(request, str(exception))
        return None
