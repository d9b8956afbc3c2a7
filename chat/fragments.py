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
