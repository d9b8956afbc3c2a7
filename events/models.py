"""Events of a community, the members' answers to them (RSVPs) and the
private calendar feeds. docs/events.md says how seats and the waitlist work.

An event is seen by exactly those who may read its community's topics (an
active membership), and not by a member a block separates from its organiser
(events/access.py). Seats are counted and given out only inside
events.actions, under a row lock on the event.
"""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# A member may bring at most this many guests (+1, +2) to an event that allows them.
GUESTS_MAX = 2


class Event(models.Model):
    community = models.ForeignKey(
        "communities.Community", on_delete=models.CASCADE, related_name="events"
    )
    organiser = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"), max_length=5000, blank=True)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    # The zone the organiser entered the times in: the .ics names it (with
    # its VTIMEZONE), so a calendar shows the event at the right local time.
    time_zone = models.CharField(max_length=64, default="Asia/Tokyo")
    place = models.CharField(_("place"), max_length=200, blank=True)
    place_going_only = models.BooleanField(
        _("show the place only to members going"), default=False
    )
    # Seats, guests included; None: no limit (and no waitlist).
    # Lowering it below the seats taken sends no one away: those going keep
    # their seats and no one is let in until enough leave (docs/events.md).
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    rsvp_deadline = models.DateTimeField(_("RSVP deadline"), null=True, blank=True)
    guests_allowed = models.PositiveSmallIntegerField(
        _("guests each member may bring"),
        default=0,
        validators=[MaxValueValidator(GUESTS_MAX)],
    )
    # The organiser closed RSVPs before the deadline.
    rsvps_closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    # Kept by events.actions under the event's row lock, in the same
    # transaction as the RSVP rows they count.
    # Seats taken by members going and their guests.
    seats_taken = models.PositiveIntegerField(default=0)
    going_count = models.PositiveIntegerField(default=0)
    maybe_count = models.PositiveIntegerField(default=0)
    not_going_count = models.PositiveIntegerField(default=0)
    waitlist_count = models.PositiveIntegerField(default=0)
    # The next place in the waitlist: arrival order under the lock.
    waitlist_seq = models.PositiveBigIntegerField(default=0)
    # Grows with every change of the RSVPs or the event: a live fragment
    # carries it, so one that arrives late never overwrites a newer one.
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["community", "starts_at"]),
            models.Index(fields=["starts_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gte=models.F("starts_at")),
                name="event_ends_after_it_starts",
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("events:detail", kwargs={"event_id": self.pk})

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    def rsvps_open(self, now=None) -> bool:
        """Whether members may still answer or change their answer."""
        now = now or timezone.now()
        return (
            self.cancelled_at is None
            and self.rsvps_closed_at is None
            and (self.rsvp_deadline is None or now < self.rsvp_deadline)
            and now < self.ends_at
        )

    @property
    def seats_left(self) -> int | None:
        if self.capacity is None:
            return None
        return max(self.capacity - self.seats_taken, 0)


class RSVP(models.Model):
    class Status(models.TextChoices):
        GOING = "going", _("Going")
        MAYBE = "maybe", _("Maybe")
        NOT_GOING = "not_going", _("Not going")
        # Asked to go while the event was full: waits for a seat, first come
        # first served (waitlist_seq).
        WAITLISTED = "waitlisted", _("Waitlisted")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rsvps")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    guests = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(GUESTS_MAX)]
    )
    # Place in the waitlist (Event.waitlist_seq when they joined it); None
    # unless waitlisted.
    waitlist_seq = models.PositiveBigIntegerField(null=True, blank=True)
    answered_at = models.DateTimeField(default=timezone.now)
    # Event.version when this row last changed (the live fragments' order).
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("RSVP")
        verbose_name_plural = _("RSVPs")
        constraints = [
            models.UniqueConstraint(fields=["event", "member"], name="rsvp_once"),
            models.CheckConstraint(
                condition=Q(status="waitlisted", waitlist_seq__isnull=False)
                | (~Q(status="waitlisted") & Q(waitlist_seq__isnull=True)),
                name="rsvp_waitlist_seq_iff_waitlisted",
            ),
        ]
        indexes = [
            models.Index(fields=["event", "status", "waitlist_seq"]),
            models.Index(fields=["member", "status"]),
        ]

    def __str__(self):
        return f"{self.member_id} {self.status} {self.event_id}"

    @property
    def seats(self) -> int:
        return 1 + self.guests


class EventMessage(models.Model):
    """What an organiser said to everyone going (a notification's target)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    body = models.TextField(_("message"), max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"message {self.pk} on {self.event_id}"


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """A member's private calendar address (the events they are going to).
    Revoking deletes the row: the old address answers 404 from then on."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"calendar feed of {self.member_id}"
