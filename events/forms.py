"""The events' forms. Labels are what members (and screen readers) find the
controls by: "Title", "Description", "Starts", "Ends", "Place", "Show the
place only to members going", "Capacity", "RSVP deadline", "Guests each
member may bring"; "Message"; "Friends to invite".

Times are typed in the viewer's zone (project/timezones.py activates it):
Django's DateTimeField reads a typed time in the current zone and shows a
stored one in it, and refuses a time that a change of clock skips or repeats
there."""

from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from events.actions import (
    CAPACITY_MAX,
    DESCRIPTION_MAX,
    MESSAGE_MAX,
    PLACE_MAX,
    TITLE_MAX,
)
from project.input import EARLIEST, LATEST

# 0..GUESTS_MAX.
GUEST_CHOICES = [(0, _("None")), (1, "+1"), (2, "+2")]


class LocalDateTimeField(forms.DateTimeField):
    """A date and time typed in the viewer's zone (<input type="datetime-local">),
    within the years the site can compute with."""

    widget = forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
    )

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is not None and not EARLIEST <= moment <= LATEST:
            raise ValidationError(
                _("Enter a date between the years 1900 and 9000."), code="range"
            )
        return moment


class EventForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX)
    description = forms.CharField(
        label=_("Description"),
        max_length=DESCRIPTION_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    starts_at = LocalDateTimeField(label=_("Starts"))
    ends_at = LocalDateTimeField(label=_("Ends"))
    place = forms.CharField(
        label=_("Place"),
        max_length=PLACE_MAX,
        required=False,
    )
    place_going_only = forms.BooleanField(
        label=_("Show the place only to members going"), required=False
    )
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=1,
        max_value=CAPACITY_MAX,
        required=False,
        help_text=_("Seats, guests included. Leave it empty for no limit."),
    )
    rsvp_deadline = LocalDateTimeField(
        label=_("RSVP deadline"),
        required=False,
        help_text=_("Members may answer until then. Leave it empty: until it ends."),
    )
    guests_allowed = forms.TypedChoiceField(
        label=_("Guests each member may bring"),
        choices=GUEST_CHOICES,
        coerce=int,
        initial=0,
    )

    def clean(self):
        cleaned = super().clean()
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        deadline = cleaned.get("rsvp_deadline")
        if starts and ends and ends < starts:
            self.add_error("ends_at", _("An event cannot end before it starts."))
        if deadline and ends and deadline > ends:
            self.add_error(
                "rsvp_deadline", _("The RSVP deadline cannot be after the event ends.")
            )
        return cleaned

    def changed_fields(self, event) -> dict:
        """What the valid form changes of `event` (update_event's arguments).
        A time is typed to the minute: one stored with seconds is unchanged
        if the form leaves its minute as it was."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if _to_the_minute(getattr(event, name)) != value
        }


def _to_the_minute(value):
    if isinstance(value, datetime):
        return value.replace(second=0, microsecond=0)
    return value


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class InviteForm(forms.Form):
    """Checkboxes of the friends who may be invited (`friends`, Members)."""

    members = forms.TypedMultipleChoiceField(
        label=_("Friends to invite"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one friend to invite.")},
    )

    def __init__(self, *args, friends=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [
            (friend.pk, friend.nickname) for friend in friends
        ]
