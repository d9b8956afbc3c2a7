"""The events' pages besides an event's own (events/live_views.py): the list
across my communities (upcoming, past, a month), creating and editing an
event, the organiser's tools, and the calendars (an event's .ics, the
member's private feed and its settings).

Every view of an event starts from events.access: one the viewer may not see
is "not found" (404), exactly as a missing id; one they may see but not run
is refused (403) on the organiser's tools, which change nothing then. Times
are read and shown in the viewer's zone (project/timezones.py).
"""

import calendar as calendar_grid
import csv
import re
from datetime import date, datetime, timedelta

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dates import WEEKDAYS, WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import Block
from communities import access as community_access
from communities.access import NotAllowed
from events import access, actions, calendar, selectors
from events.forms import EventForm, InviteForm, MessageForm
from events.models import RSVP
from project.input import BadInput
from project.refusals import is_htmx, refusal, refused

PAGE_SIZE = 20


# --- Answers -------------------------------------------------------------------------


def refused_write(request, exc: NotAllowed, event):
    """A refused write: the reason where the member acted (an htmx request,
    with its status and any retry time: project.refusals.refused), else on
    the event's page as a flash message. The event's page's own answers
    (events/live_views.py) refuse through it too."""
    if is_htmx(request):
        return refused(request, exc)
    flash.error(request, str(exc))
    return redirect(event)


def _done(request, event, message: str):
    flash.success(request, message)
    if is_htmx(request):
        # The page reloads, with the message, wherever it was asked from.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = event.get_absolute_url()
        return response
    return redirect(event)


def _posted(request):
    """A form's data: a POST's, even an empty one (which is refused with the
    reasons, not shown as a blank form)."""
    return request.POST if request.method == "POST" else None


def _organised(request, event_id):
    """(event, None) for an event the viewer may run; (None, a 403 answer)
    for one they may only see; Http404 for any other."""
    try:
        return access.access_organised_event(request.user, event_id), None
    except NotAllowed as exc:
        return None, refusal(request, str(exc), exc.status)


# --- Lists ---------------------------------------------------------------------------


def event_list(request):
    """Upcoming events of my communities, soonest first; `?when=past` those
    that are over, the latest first; `?month=YYYY-MM` a month's calendar."""
    if "month" in request.GET:
        return _month_view(request, _month_param(request.GET["month"]))
    past = request.GET.get("when") == "past"
    if past:
        events = selectors.past_events(request.user)
    else:
        events = selectors.upcoming_events(request.user)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return TemplateResponse(
        request,
        "events/event_list.html",
        {
            "view": "past" if past else "upcoming",
            "page": page,
            # The pagination's links keep the view (templates/_pagination.html).
            "page_query": "when=past&" if past else "",
            "this_month": timezone.localdate().strftime("%Y-%m"),
        },
    )


_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _month_param(value: str) -> date:
    """The first day of the month `value` (YYYY-MM), else BadInput."""
    match = _MONTH.fullmatch(value)
    if match:
        year, month = int(match[1]), int(match[2])
        if 1900 <= year <= 8999 and 1 <= month <= 12:
            return date(year, month, 1)
    raise BadInput(_("“month” must be a year and month such as 2026-10."))


def _next_month(first: date) -> date:
    return (first + timedelta(days=31)).replace(day=1)


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _days_of(event) -> tuple[date, date]:
    """The first and last day of `event` in the viewer's zone (an event ending
    at midnight does not reach into that day)."""
    start = timezone.localtime(event.starts_at)
    end = timezone.localtime(event.ends_at)
    last = end.date()
    if end > start and end.time() == datetime.min.time():
        last -= timedelta(days=1)
    return start.date(), last


def _month_view(request, first: date):
    after = _next_month(first)
    events = selectors.events_between(
        request.user, _local_midnight(first), _local_midnight(after)
    )
    # Each day's events, each marked whether it starts that day (else it
    # continues from an earlier one).
    on_day: dict[date, list] = {}
    for event in events:
        start, last = _days_of(event)
        day = max(start, first)
        while day <= last and day < after:
            on_day.setdefault(day, []).append(
                {"event": event, "starts_here": day == start}
            )
            day += timedelta(days=1)
    # Django's FIRST_DAY_OF_WEEK counts from Sunday, Python's calendar from
    # Monday.
    first_weekday = (int(formats.get_format("FIRST_DAY_OF_WEEK")) - 1) % 7
    weeks = [
        [
            {
                "date": day,
                "number": day.day,
                "weekday": WEEKDAYS_ABBR[day.weekday()],
                "in_month": day.month == first.month,
                "events": on_day.get(day, []),
            }
            for day in week
        ]
        for week in calendar_grid.Calendar(first_weekday).monthdatescalendar(
            first.year, first.month
        )
    ]
    weekdays = [
        {
            "name": WEEKDAYS[(first_weekday + i) % 7],
            "abbr": WEEKDAYS_ABBR[(first_weekday + i) % 7],
        }
        for i in range(7)
    ]
    previous = (first - timedelta(days=1)).replace(day=1)
    return TemplateResponse(
        request,
        "events/event_month.html",
        {
            "view": "month",
            "month": first,
            "weeks": weeks,
            "weekdays": weekdays,
            "event_count": len(events),
            "today": timezone.localdate(),
            "previous": previous.strftime("%Y-%m") if previous.year >= 1900 else "",
            "next": after.strftime("%Y-%m") if after.year <= 8999 else "",
            "this_month": timezone.localdate().strftime("%Y-%m"),
        },
    )


# --- Creating and editing ------------------------------------------------------------


def event_create(request, community_id):
    community, membership = community_access.access_community(
        request.user, community_id
    )
    if not access.can_create_event(request.user, community, membership):
        if membership is None or not membership.is_active:
            reason = _("Only members of this community can create events.")
        else:
            reason = _("Only the owner and moderators can create events here.")
        return refusal(request, reason, 403)

    def save(data):
        return actions.create_event(
            organiser=request.user,
            community=community,
            time_zone=timezone.get_current_timezone_name(),
            **data,
        )

    form = EventForm(_posted(request))
    return _event_form(
        request, form, community, None, save, _("The event was created.")
    )


def event_edit(request, event_id):
    """The event's form and, beside it, the organiser's tools. The times are
    shown and read in the editor's zone; the event keeps its own zone."""
    event, refused = _organised(request, event_id)
    if refused:
        return refused

    def save(data):
        changed = form.changed_fields(event)
        if changed:
            actions.update_event(actor=request.user, event=event, **changed)
        return event

    initial = {name: getattr(event, name) for name in EventForm.base_fields}
    form = EventForm(_posted(request), initial=initial)
    return _event_form(
        request, form, event.community, event, save, _("The event was saved.")
    )


def _event_form(request, form, community, event, save, done: str):
    """The create and edit page: on a valid POST, `save(cleaned_data)` and go
    to the event it returns; a refusal is the form's error."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form.cleaned_data)
        except NotAllowed as exc:
            form.add_error(None, str(exc))
        else:
            flash.success(request, done)
            return redirect(saved)
    return TemplateResponse(
        request,
        "events/event_form.html",
        {"form": form, "community": community, "event": event},
    )


# --- The organiser's tools -----------------------------------------------------------


# The organiser's writes that cannot be undone, each asked to confirm first:
# the write, and what the organiser is told after it.
IRREVERSIBLE = {
    "cancel": (
        actions.cancel_event,
        gettext_lazy("The event was cancelled. Everyone who answered was told."),
    ),
    "close": (
        actions.close_rsvps,
        gettext_lazy("RSVPs are closed. No one can answer now."),
    ),
}


def _confirmed(request, event_id, tool: str):
    """GET asks to confirm (events/event_cancel_confirm.html); POST does the
    write of IRREVERSIBLE[tool]."""
    event, refused = _organised(request, event_id)
    if refused:
        return refused
    write, done = IRREVERSIBLE[tool]
    if request.method == "POST":
        try:
            write(actor=request.user, event=event)
        except NotAllowed as exc:
            return refused_write(request, exc, event)
        return _done(request, event, str(done))
    return TemplateResponse(
        request,
        "events/event_cancel_confirm.html",
        {"event": event, "closing": tool == "close"},
    )


def event_cancel(request, event_id):
    """Cancel the event: everyone who answered is told."""
    return _confirmed(request, event_id, "cancel")


def event_close(request, event_id):
    """Close RSVPs before their deadline."""
    return _confirmed(request, event_id, "close")


def event_message(request, event_id):
    event, refused = _organised(request, event_id)
    if refused:
        return refused
    form = MessageForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            actions.message_going(
                actor=request.user, event=event, body=form.cleaned_data["body"]
            )
        except NotAllowed as exc:
            form.add_error(None, str(exc))
        else:
            return _done(request, event, _("Your message was sent to everyone going."))
    return TemplateResponse(
        request, "events/event_message_form.html", {"form": form, "event": event}
    )


def event_invite(request, event_id):
    event, refused = _organised(request, event_id)
    if refused:
        return refused
    friends = list(selectors.invitable_friends(request.user, event))
    form = InviteForm(_posted(request), friends=friends)
    if request.method == "POST" and form.is_valid():
        try:
            count = actions.invite_friends(
                actor=request.user,
                event=event,
                member_ids=form.cleaned_data["members"],
            )
        except NotAllowed as exc:
            form.add_error(None, str(exc))
        else:
            return _done(
                request,
                event,
                ngettext(
                    "%(count)d friend was invited.",
                    "%(count)d friends were invited.",
                    count,
                )
                % {"count": count},
            )
    return TemplateResponse(
        request,
        "events/event_invite_form.html",
        {"form": form, "event": event, "friends": friends},
    )


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def attendees_csv(request, event_id):
    """Everyone who answered, by nickname only (a member hidden from the
    organiser by a block is counted, never named): going, then the waitlist
    in its order, then maybe and not going."""
    event, refused = _organised(request, event_id)
    if refused:
        return refused
    hidden = Block.objects.hidden_id_set(request.user)
    order = {
        RSVP.Status.GOING: 0,
        RSVP.Status.WAITLISTED: 1,
        RSVP.Status.MAYBE: 2,
        RSVP.Status.NOT_GOING: 3,
    }
    rsvps = sorted(
        RSVP.objects.filter(event=event, member__is_active=True)
        .select_related("member")
        .order_by("answered_at", "pk"),
        key=lambda rsvp: (order[rsvp.status], rsvp.waitlist_seq or 0),
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="event-{event.pk}-attendees.csv"'
    )
    # A byte order mark: spreadsheets then read the nicknames as UTF-8.
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([_("Nickname"), _("Status"), _("Guests"), _("Waitlist position")])
    position = 0
    for rsvp in rsvps:
        waiting = rsvp.status == RSVP.Status.WAITLISTED
        position += waiting
        nickname = (
            _("(hidden by a block)")
            if rsvp.member_id in hidden
            else rsvp.member.nickname
        )
        writer.writerow(
            [
                _cell(nickname),
                _cell(rsvp.get_status_display()),
                rsvp.guests,
                position if waiting else "",
            ]
        )
    return response


# --- Calendars -----------------------------------------------------------------------


def _ics_response(content: bytes, filename: str = "") -> HttpResponse:
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def event_ics(request, event_id):
    """The event as an iCalendar file ("Add to calendar"); its place only if
    the viewer may read it."""
    event = access.access_event(request.user, event_id)
    status = (
        RSVP.objects.filter(event=event, member=request.user)
        .values_list("status", flat=True)
        .first()
    )
    content = calendar.calendar_ics(
        [event],
        url_of=lambda e: request.build_absolute_uri(e.get_absolute_url()),
        with_place=lambda e: access.may_read_place(request.user, e, status),
    )
    return _ics_response(content, f"event-{event.pk}.ics")


@login_not_required
def calendar_feed(request, token):
    """A member's private feed: the events they are going to and may still
    see. No login (a calendar app asks); an unknown or revoked token, or a
    member no longer active, is not found."""
    member = calendar.member_of_feed(token)
    if member is None:
        raise Http404
    content = calendar.calendar_ics(
        selectors.going_events(member),
        url_of=lambda e: request.build_absolute_uri(e.get_absolute_url()),
        # Going: the place is theirs to read.
        with_place=lambda e: True,
        name=_("Enishi: events you are going to"),
    )
    response = _ics_response(content)
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex"
    return response


# What the settings page's buttons send as `action`: the write, and what the
# member is told after it.
FEED_ACTIONS = {
    "create": (
        calendar.create_feed,
        gettext_lazy("Your calendar address was created."),
    ),
    "replace": (
        calendar.replace_feed,
        gettext_lazy(
            "Your calendar address was replaced. The old address no longer works."
        ),
    ),
    "revoke": (
        calendar.revoke_feed,
        gettext_lazy("Your calendar address was revoked. It no longer works."),
    ),
}


def calendar_settings(request):
    """The member's private calendar address: create it, replace it with a new
    one, or revoke it (each a POST, then back here)."""
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in FEED_ACTIONS:
            return refusal(request, _("Choose what to do with the address."), 400)
        write, message = FEED_ACTIONS[action]
        write(member=request.user)
        flash.success(request, str(message))
        return redirect("events:calendar-settings")
    feed = calendar.feed_of(request.user)
    feed_url = ""
    if feed is not None:
        feed_url = request.build_absolute_uri(
            reverse("events:feed", kwargs={"token": feed.token})
        )
    return TemplateResponse(
        request,
        "events/calendar_settings.html",
        {"feed": feed, "feed_url": feed_url},
    )
