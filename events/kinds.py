"""The notification kinds of events (registered by EventsConfig.ready; the
registry is presence/notifications.py):

- event_promoted: a seat came free and the waitlist gave it to the recipient;
- event_changed: an event the recipient is going to has a new time or place;
- event_cancelled: an event the recipient answered was cancelled;
- event_message: the organiser wrote to everyone going (target: the
  EventMessage);
- event_invitation: a friend invited the recipient to an event.

Each is shown only while the recipient may still see the event (the page's
rule, events.access.event_visible_q, checked each time a row is read): one
who left the community or blocked the organiser no longer sees the line.
Their lines are partials of events/notification_lines.html.
"""

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from events.access import event_visible_q
from events.models import Event, EventMessage
from presence.notifications import Kind, register

LINES = "events/notification_lines.html"


def _events_seen_by(recipient):
    return Event.objects.filter(event_visible_q(recipient))


def _event_visible(recipient) -> Q:
    return Q(Exists(_events_seen_by(recipient).filter(pk=OuterRef("target_id"))))


def _message_visible(recipient) -> Q:
    return Q(
        Exists(
            EventMessage.objects.filter(
                pk=OuterRef("target_id"), event__in=_events_seen_by(recipient)
            )
        )
    )


def _per_event(kind: str):
    """Rows about one event make one line ("ben and 2 others invited you")."""
    return lambda target_id, actor_id: f"{kind}:{target_id}"


def _event_url(event, line) -> str:
    return event.get_absolute_url()


def _event_kind(name: str, label, **options) -> Kind:
    return Kind(
        name=name,
        label=label,
        template=f"{LINES}#{name}",
        visible=_event_visible,
        load=Event.objects.in_bulk,
        url=_event_url,
        **options,
    )


def register_all() -> None:
    register(_event_kind("event_promoted", _("Events: a seat for me")))
    register(
        _event_kind(
            "event_changed",
            _("Events: a new time or place"),
            group_key=_per_event("event_changed"),
        )
    )
    register(_event_kind("event_cancelled", _("Events: cancelled")))
    register(
        Kind(
            name="event_message",
            label=_("Events: messages from organisers"),
            template=f"{LINES}#event_message",
            visible=_message_visible,
            load=EventMessage.objects.select_related("event").in_bulk,
            url=lambda message, line: _event_url(message.event, line),
        )
    )
    register(
        _event_kind(
            "event_invitation",
            _("Events: invitations"),
            group_key=_per_event("event_invitation"),
            replaces_own=True,
        )
    )
