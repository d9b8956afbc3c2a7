"""Placeholder: replaced by the events pages (list, create, organiser tools,
calendars)."""

from django.http import Http404


def _missing(request, **kwargs):
    raise Http404


event_list = event_create = event_edit = event_cancel = event_close = _missing
event_message = event_invite = attendees_csv = event_ics = _missing
calendar_feed = calendar_settings = _missing
