"""What the composer's photo picker needs to know before it sends
(templates/chat/_composer_photos.html): how many photos a message takes and
how large they may be, so a file the server would refuse, or a request its
body limit would cut off (project/body_limit.py), is refused at the composer."""

from django import template
from django.conf import settings

from chat import actions

register = template.Library()

MB = 1024 * 1024
# Room in the request for the rest of the form and the multipart framing.
FORM_ROOM = 64 * 1024


@register.simple_tag
def photo_limits() -> dict:
    per_file = min(settings.PHOTOS_MAX_BYTES, settings.AVATAR_MAX_BYTES)
    in_all = settings.REQUEST_MAX_BYTES - FORM_ROOM
    return {
        "count": actions.MAX_PHOTOS,
        "bytes": per_file,
        "total_bytes": in_all,
        "mb": max(1, per_file // MB),
        "total_mb": max(1, in_all // MB),
    }
