"""The topic page's moderator controls (moderation/room.py): slow mode, lock,
pin and unpin. Each answers an htmx request with the fragment it changed
(the socket brings the same to every other page) or a refusal said at the
control; a plain form post is redirected back to the topic."""

from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from chat import access
from chat.fragments import TOPIC_TEMPLATE
from communities.access import NotAllowed
from moderation import room
from project.refusals import refusal


def _answer(request, topic, partial: str, context: dict):
    if not request.htmx:
        return redirect(topic)
    return TemplateResponse(request, f"{TOPIC_TEMPLATE}#{partial}", context)


@require_POST
def slow_mode(request, topic_id):
    topic, _membership = access.access_topic(request.user, topic_id)
    try:
        topic = room.set_slow_mode(request.user, topic, request.POST.get("seconds"))
    except NotAllowed as exc:
        return refusal(request, str(exc), exc.status)
    return _answer(request, topic, "room-state", room.state_context(topic, oob=True))


@require_POST
def lock(request, topic_id):
    """Lock (locked=1) or unlock (locked=0) the topic; without `locked`, the
    other of what it is now."""
    topic, _membership = access.access_topic(request.user, topic_id)
    wanted = request.POST.get("locked")
    if wanted not in (None, "0", "1"):
        return refusal(request, _("Say whether to lock the topic."), 400)
    locked = topic.locked_at is None if wanted is None else wanted == "1"
    try:
        if locked:
            topic = room.lock_topic(request.user, topic)
        else:
            topic = room.unlock_topic(request.user, topic)
    except NotAllowed as exc:
        return refusal(request, str(exc), exc.status)
    return _answer(request, topic, "room-state", room.state_context(topic, oob=True))


def _pin_view(change):
    @require_POST
    def view(request, message_id):
        message, _membership = access.access_message(request.user, message_id)
        try:
            change(request.user, message)
        except NotAllowed as exc:
            return refusal(request, str(exc), exc.status)
        return _answer(
            request,
            message.topic,
            "pins",
            room.pins_context(
                message.topic_id, room.pinned_messages(message.topic_id), oob=True
            ),
        )

    view.__name__ = change.__name__
    return view


pin = _pin_view(room.pin_message)
unpin = _pin_view(room.unpin_message)
