"""How the site writes a date and time: one style per language, everywhere.

`{{ value|when }}` is the long form (a list of invitations, a topic's last
message); `{{ value|when_compact }}` is for chat, where a time alone is enough
for today; `{{ value|when_time }}` is the time of day alone (a day of the
events' month). Each renders a <time> element whose `datetime` is the exact
instant and whose `title` is the full date and time, in the current time
zone: the member's own (project/timezones.py), else the site's (TIME_ZONE).
`{{ day|when_month }}` writes a date's month and year (a month's calendar).
`{{ value|epoch }}` is a moment as seconds since 1970, for scripts.
"""

from datetime import date, datetime

from django import template
from django.utils import timezone, translation
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

register = template.Library()

# Django's date-format syntax, per language; a language not listed writes
# dates as English does. English spells the month, so 11/30 and 30/11 readers
# both read it right; both use the 24-hour clock, as chat always has.
STYLES = {
    "en": {
        "date": "j M Y",
        "month_day": "j M",
        "time": "H:i",
        "datetime": "j M Y, H:i",
        "month_day_time": "j M, H:i",
        "month": "F Y",
    },
    "ja": {
        "date": "Y年n月j日",
        "month_day": "n月j日",
        "time": "H:i",
        "datetime": "Y年n月j日 H:i",
        "month_day_time": "n月j日 H:i",
        "month": "Y年n月",
    },
}


def _style(kind: str) -> str:
    language = (translation.get_language() or "en").split("-")[0]
    return STYLES.get(language, STYLES["en"])[kind]


def long_text(value: datetime) -> str:
    """The full date and time, as text."""
    return date_format(timezone.localtime(value), _style("datetime"))


def compact_text(value: datetime, *, now: datetime | None = None) -> str:
    """Today: the time; this year: month, day and time; before: the date."""
    local = timezone.localtime(value)
    today = timezone.localtime(now or timezone.now()).date()
    if local.date() == today:
        kind = "time"
    elif local.year == today.year:
        kind = "month_day_time"
    else:
        kind = "date"
    return date_format(local, _style(kind))


def _time_element(value: datetime, text: str) -> str:
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        timezone.localtime(value).isoformat(timespec="seconds"),
        long_text(value),
        text,
    )


@register.filter
def when(value):
    if not isinstance(value, datetime):
        return ""
    return _time_element(value, long_text(value))


@register.filter
def when_compact(value):
    if not isinstance(value, datetime):
        return ""
    return _time_element(value, compact_text(value))


@register.filter
def when_time(value):
    if not isinstance(value, datetime):
        return ""
    return _time_element(value, date_format(timezone.localtime(value), _style("time")))


@register.filter
def when_month(value):
    """A date's (or a moment's) month and year, as text."""
    if isinstance(value, datetime):
        value = timezone.localtime(value)
    if not isinstance(value, date):
        return ""
    return date_format(value, _style("month"))


@register.filter
def epoch(value):
    """A moment as whole seconds since 1970 (UTC), for a page's script: the
    same number in every time zone, where the page writes it in the
    member's own (static/js/chat.js)."""
    if not isinstance(value, datetime):
        return ""
    return str(int(value.timestamp()))
