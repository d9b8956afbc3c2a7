"""Live fragments: rendered once per language per event, from the same named
partials the topic page uses, so page and live update cannot drift."""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

TOPIC_TEMPLATE = "chat/topic_detail.html"


def render_per_language(partial: str, context: dict) -> dict[str, str]:
    frames = {}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            frames[language] = render_to_string(f"{TOPIC_TEMPLATE}#{partial}", context)
    return frames


def message_context(message) -> dict:
    return {"message": message, "topic_id": message.topic_id}


def with_relations(message):
    """The message with what its fragment shows (author, reply and its
    author) loaded: as it is when the caller has them already, else fetched
    once."""
    from chat.models import Message

    author = Message._meta.get_field("author")
    reply_to = Message._meta.get_field("reply_to")
    loaded = author.is_cached(message) and reply_to.is_cached(message)
    if loaded and message.reply_to is not None:
        loaded = author.is_cached(message.reply_to)
    if loaded:
        return message
    return Message.objects.for_display().get(pk=message.pk)
