"""Live fragments: rendered once per language per event, from the same named
partials the topic page uses, so page and live update cannot drift."""

import functools
import hashlib
import logging
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

logger = logging.getLogger(__name__)

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


# --- Catch-up: each message rendered once, kept for every page that asks -------

# A catch-up after an outage asks for the same few hundred messages from every
# open tab at once; rendering them per request was most of its cost (make
# faults). A message's fragment is the same for every viewer but for the
# viewer's own like and a quote of someone hidden from them, so those rows are
# rendered per request and every other one is kept in the cache, under a key
# digesting everything the fragment shows: a change to any of it (an edit, a
# like, a nickname, the quoted message) is a new key, never a stale page.
FRAGMENT_TTL = 15 * 60  # seconds
NEUTRAL = {"liked_ids": frozenset(), "hidden_ids": frozenset()}


@functools.cache
def _template_digest() -> str:
    # A deploy with another template starts on new keys.
    source = Path(get_template(TOPIC_TEMPLATE).origin.name).read_bytes()
    return hashlib.sha256(source).hexdigest()[:12]


def _fragment_key(message) -> str:
    reply = message.reply_to
    parts = [
        _template_digest(),
        message.pk,
        message.created_at.isoformat(),
        message.changed_at and message.changed_at.isoformat(),
        message.edited_at and message.edited_at.isoformat(),
        message.deleted_at and message.deleted_at.isoformat(),
        message.body_html,
        message.like_count,
        message.author_id,
        message.author.nickname,
        reply and reply.pk,
        reply and reply.author_id,
        reply and reply.author.nickname,
        reply and reply.body,
        reply and reply.deleted_at and reply.deleted_at.isoformat(),
        translation.get_language(),
        timezone.get_current_timezone_name(),
        # "Today" shows a time alone, other days a date.
        timezone.localdate().isoformat(),
    ]
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:24]
    return f"chat:fragment:{message.pk}:{digest}"


def _render_message(message, context: dict) -> str:
    return render_to_string(
        f"{TOPIC_TEMPLATE}#message", {**context, "message": message}
    )


def messages_html(rows, *, liked_ids, hidden_ids) -> str:
    """The `message` fragments of `rows` (loaded with for_display()), in order,
    as the viewer sees them: shared ones from the cache (rendered and stored
    on a miss), the viewer's own variants rendered here. The cache is a
    saving, never a dependency: when it fails, everything is rendered."""
    context = {"liked_ids": liked_ids, "hidden_ids": hidden_ids}
    shared = {
        message.pk: _fragment_key(message)
        for message in rows
        if message.pk not in liked_ids
        and not (message.reply_to and message.reply_to.author_id in hidden_ids)
    }
    try:
        found = cache.get_many(shared.values()) if shared else {}
    except Exception:
        logger.warning("Fragment cache unavailable; rendering catch-up", exc_info=True)
        found = {}
    parts, new = [], {}
    for message in rows:
        key = shared.get(message.pk)
        html = found.get(key) if key else None
        if html is None:
            html = _render_message(message, context if key is None else NEUTRAL)
            if key is not None:
                new[key] = html
        parts.append(html)
    if new:
        try:
            cache.set_many(new, FRAGMENT_TTL)
        except Exception:
            logger.warning("Fragment cache unavailable; not kept", exc_info=True)
    # Each part is a rendered, autoescaped template.
    return mark_safe("".join(parts))
