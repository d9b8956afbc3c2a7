"""The one view that sends the files of a message's photos.

A photo is seen by whoever may see its message right now: an active member
of the topic's community (chat.access), not separated from its author by a
block (Message.objects.visible_to), and only while the message is not
deleted. Anyone else gets 404, exactly as for an id that does not exist. The
bytes are served as diary photos' are (photos.views.serve_stored): private,
revalidated at every use, so a ban or a block stops the next look.
"""

from django.http import Http404
from django.views.decorators.http import require_GET

from chat import access
from chat.models import MessagePhoto
from photos.models import SIZES
from photos.views import serve_stored


@require_GET
def message_photo(request, photo_id, size):
    if size not in SIZES or not request.user.is_authenticated:
        raise Http404
    photo = (
        MessagePhoto.objects.filter(pk=photo_id, message__deleted_at__isnull=True)
        .only("pk", "message_id", "thumbnail", "display")
        .first()
    )
    if photo is None:
        raise Http404
    # The topic's rule and blocks, as for every other read of a message
    # (404, AccessDenied among them, for anyone who may not see it).
    access.access_message(request.user, photo.message_id)
    return serve_stored(request, photo.file(size))
