"""Placeholder: replaced by the event page, its RSVP panel and attendee list."""

from django.http import Http404


def _missing(request, **kwargs):
    raise Http404


event_detail = rsvp = attendees = _missing
