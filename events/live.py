"""What an event's changes push, after they commit (docs/events.md, "Live").
Placeholder interface: events.actions calls these; the live part fills them."""


def publish(event_id: int, changed: list[int], positions_changed: list[int]) -> None:
    """After an RSVP change: `changed` are the members whose answer (state,
    guests) changed, promoted members included; `positions_changed` the
    members still waitlisted whose position moved."""


def publish_event(event_id: int) -> None:
    """After the event itself changed (edited, cancelled, RSVPs closed)."""
