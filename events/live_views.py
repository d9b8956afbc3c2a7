"""An event's page, its RSVP panel and its attendee list (docs/events.md,
"Live"). Every view starts with events.access, so an event the viewer may not
see is "not found", exactly as a missing id. Answers go over HTTP (the panel's
buttons post here); the socket only pushes (events/live.py).

The panel's parts carry the event's version when they were read, and each
attendee its answer's: the page (static/js/events.js) keeps the newest it has
shown of each, whichever way it came (the page itself, the socket, the answer
to its own request), so a part that arrives late never undoes a newer one.
"""

from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from accounts.models import Block
from communities.access import NotAllowed
from events import access, actions, live
from events.models import GUESTS_MAX, RSVP
from events.views import refused_write
from project.input import int_param

Status = RSVP.Status
# Attendees named on the event's page in each list (going, maybe, waiting);
# the attendee list names everyone, a page at a time.
SHOWN_MAX = 50
ATTENDEES_PAGE_SIZE = 50
# What the panel's buttons send as `status`: an answer (events.actions checks
# it), or taking it back.
WITHDRAW = "withdraw"


def _attendees(event, hidden):
    """The answers to `event` a viewer may see named: not those of the
    members `hidden` from them by a block (counted, never named), nor of
    inactive members."""
    return (
        RSVP.objects.filter(event=event, member__is_active=True)
        .exclude(member_id__in=hidden)
        .select_related("member")
    )


def panel_context(request, event) -> dict:
    """What the event's page and the viewer's own panel show: the event as it
    is now, the viewer's answer and place in the waitlist, and the first
    attendees of each list. A fixed number of queries, however many
    answered."""
    viewer = request.user
    hidden = Block.objects.hidden_id_set(viewer)
    attendees = _attendees(event, hidden)
    mine = actions.answers_for(event, viewer)
    organises = access.can_organise(viewer, event)
    return {
        "event": event,
        "mine": mine,
        "position": actions.waitlist_position(mine),
        "guest_choices": range(event.guests_allowed + 1),
        "organises": organises,
        # A place shown only to members going: shown apart from the summary,
        # which every page shares.
        "shows_own_place": bool(event.place)
        and event.place_going_only
        and access.may_read_place(viewer, event, mine and mine.status, organises),
        **live.summary_context(event),
        "going": list(
            attendees.filter(status=Status.GOING).order_by("version", "member_id")[
                :SHOWN_MAX
            ]
        ),
        "maybe": list(
            attendees.filter(status=Status.MAYBE).order_by("version", "member_id")[
                :SHOWN_MAX
            ]
        ),
        "waitlist": list(
            attendees.filter(status=Status.WAITLISTED).order_by("waitlist_seq")[
                :SHOWN_MAX
            ]
        ),
    }


def event_detail(request, event_id):
    event = access.access_event(request.user, event_id)
    return TemplateResponse(
        request, "events/event_detail.html", panel_context(request, event)
    )


@require_http_methods(["GET", "POST"])
def rsvp(request, event_id):
    """POST `status` (going, maybe, not_going, or withdraw) and `guests`:
    answer the event, change the answer or take it back. Answers the
    viewer's own panel to htmx, else goes back to the event's page.

    GET answers the panel as it is now (htmx): what the page fetches each
    time its socket opens (its catch-up) and after a notice that its
    member's answer or place in the waitlist changed."""
    event = access.access_event(request.user, event_id)
    if request.method == "POST":
        status = request.POST.get("status", "")
        guests = int_param(request.POST, "guests", maximum=GUESTS_MAX) or 0
        try:
            if status == WITHDRAW:
                actions.withdraw(request.user, event)
            else:
                actions.answer(request.user, event, status, guests)
        except NotAllowed as exc:
            return refused_write(request, exc, event)
        if request.htmx:
            # The counts and the answer as the action left them.
            event = access.access_event(request.user, event_id)
    if not request.htmx:
        return redirect(event)
    return TemplateResponse(
        request, "events/_rsvp.html#own", panel_context(request, event)
    )


# Going first, then the waitlist in its order, then maybe.
_LIST_ORDER = Case(
    When(status=Status.GOING, then=Value(0)),
    When(status=Status.WAITLISTED, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def attendees(request, event_id):
    """Everyone going, waiting or maybe, a page at a time, named as on the
    event's page (not those hidden from the viewer by a block)."""
    event = access.access_event(request.user, event_id)
    hidden = Block.objects.hidden_id_set(request.user)
    rows = (
        _attendees(event, hidden)
        .exclude(status=Status.NOT_GOING)
        .order_by(_LIST_ORDER, "waitlist_seq", "version", "member_id")
    )
    page = Paginator(rows, ATTENDEES_PAGE_SIZE).get_page(request.GET.get("page"))
    return TemplateResponse(
        request, "events/attendee_list.html", {"event": event, "page": page}
    )
