"""Live fragments: rendered once per language per event, from the same named
partials the topic page uses, so page and live update cannot drift."""

import functools
import hashlib
import re
import threading
from collections import OrderedDict
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from project import cache_guard

TOPIC_TEMPLATE = "chat/topic_detail.html"


def render_per_language(
    partial: str, context: dict, template: str = TOPIC_TEMPLATE
) -> dict[str, str]:
    """A partial of `template` rendered once per language (a live frame for
    every socket of a group in that language), in the site's time zone: the
    same frame goes to members of every zone, so it is never rendered in the
    zone of whoever's request it was scheduled from (project/timezones.py)."""
    frames = {}
    for language, _name in settings.LANGUAGES:
        with translation.override(language), timezone.override(settings.TIME_ZONE):
            frames[language] = render_to_string(f"{template}#{partial}", context)
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
# digesting what the fragment shows (KEY_FIELDS): a change to any of it (an
# edit, a delete, a like, a nickname, the quoted message) is a new key.
FRAGMENT_TTL = 15 * 60  # seconds
NEUTRAL = {"liked_ids": frozenset(), "hidden_ids": frozenset()}


INCLUDED = re.compile(rb"""{%\s*include\s+["']([^"']+)["']""")


def _sources(name: str, seen: set[str]) -> list[bytes]:
    """The template `name` and every template it includes, at any depth."""
    if name in seen:
        return []
    seen.add(name)
    source = Path(get_template(name).origin.name).read_bytes()
    found = [source]
    for included in INCLUDED.findall(source):
        found += _sources(included.decode(), seen)
    return found


@functools.cache
def _template_digest() -> str:
    # A deploy that changes the topic's template, or one it includes (a
    # message's photos, an avatar), starts on new keys.
    digest = hashlib.sha256()
    for source in _sources(TOPIC_TEMPLATE, set()):
        digest.update(source)
    return digest.hexdigest()[:12]


# What a message's fragment shows, apart from its text: the fields its cache
# key is made of, read as plain values (no Message objects are built for the
# rows the cache holds). An edit, a delete or a like sets changed_at; a change
# to the quoted message sets its own; a nickname and an avatar are read as they
# are now.
KEY_FIELDS = (
    "pk",
    "created_at",
    "changed_at",
    "author_id",
    "author__nickname",
    # The avatar shown beside it (its file name: a new upload is a new name).
    "author__avatar",
    "reply_to_id",
    "reply_to__changed_at",
    "reply_to__author_id",
    "reply_to__author__nickname",
)


def _key_context() -> tuple:
    """What every fragment of one answer shares: the template, the language,
    the time zone, and today (which shows a time alone, other days a date)."""
    return (
        _template_digest(),
        translation.get_language(),
        timezone.get_current_timezone_name(),
        timezone.localdate().isoformat(),
    )


# Memoised: every page catching up after an outage asks for the same rows, and
# digesting them was a third of a warm catch-up's cost. The row's values are
# the key's whole input, so a memo is never stale.
@functools.lru_cache(maxsize=32768)
def _fragment_key(row, shared: tuple) -> str:
    parts = (shared, *(getattr(row, field) for field in KEY_FIELDS))
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:24]
    return f"chat:fragment:{row.pk}:{digest}"


def _render_message(message, context: dict) -> str:
    return render_to_string(
        f"{TOPIC_TEMPLATE}#message", {**context, "message": message}
    )


class LocalFragments:
    """The fragments this process used last, in its own memory, in front of
    the shared cache: a catch-up storm asks every process for the same few
    hundred fragments hundreds of times, and reading them from Redis was half
    of a warm catch-up's cost; while Redis is down (or just restarted, empty)
    they would otherwise be rendered again by every request. Keys digest
    what a fragment shows, so an entry is never stale, only unused: the
    least recently used go first once `max_bytes` is held. Nothing another
    process needs is kept here."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get_many(self, keys) -> dict[str, str]:
        found = {}
        with self._lock:
            for key in keys:
                html = self._entries.get(key)
                if html is not None:
                    self._entries.move_to_end(key)
                    found[key] = html
        return found

    def set_many(self, entries: dict[str, str]) -> None:
        with self._lock:
            for key, html in entries.items():
                old = self._entries.pop(key, None)
                if old is not None:
                    self._bytes -= len(old)
                self._entries[key] = html
                self._bytes += len(html)
            while self._bytes > self.max_bytes and self._entries:
                _key, html = self._entries.popitem(last=False)
                self._bytes -= len(html)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


# About 30,000 messages' fragments (a fragment is about a kilobyte).
local_fragments = LocalFragments(max_bytes=32 * 1024 * 1024)


def _cached(keys: list[str]) -> dict[str, str]:
    """Fragments under `keys`: this process's first, then the shared cache's
    (kept here too for the next request)."""
    found = local_fragments.get_many(keys)
    rest = [key for key in keys if key not in found]
    if rest:
        shared = cache_guard.attempt(
            lambda: cache.get_many(rest), "Fragment cache unavailable; rendering"
        )
        if shared:
            local_fragments.set_many(shared)
            found.update(shared)
    return found


def _keep(new: dict[str, str]) -> None:
    local_fragments.set_many(new)
    cache_guard.attempt(
        lambda: cache.set_many(new, FRAGMENT_TTL),
        "Fragment cache unavailable; not kept",
    )


def messages_html(rows, *, liked_ids, hidden_ids) -> str:
    """The `message` fragments of `rows` (values_list(*KEY_FIELDS,
    named=True) of messages the viewer may see), in order, as the viewer
    sees them: shared ones from this process's memory or the cache, the rest
    (misses, and the viewer's own variants: their like, a quote of someone
    hidden from them) loaded in one query and rendered, the shared ones kept.
    The cache is a saving, never a dependency: when it fails, this process's
    memory still serves, and what it lacks is rendered."""
    from chat.models import Message

    context = {"liked_ids": liked_ids, "hidden_ids": hidden_ids}
    key_context = _key_context()
    shared = {
        row.pk: _fragment_key(row, key_context)
        for row in rows
        if row.pk not in liked_ids and row.reply_to__author_id not in hidden_ids
    }
    found = _cached(list(shared.values())) if shared else {}
    html = {pk: found[key] for pk, key in shared.items() if key in found}
    missing = [row.pk for row in rows if row.pk not in html]
    new = {}
    if missing:
        # In id order, as the answer is: the renders (and what they log or
        # warn) come in the order a reader meets them, on any database.
        for message in (
            Message.objects.for_display().filter(pk__in=missing).order_by("pk")
        ):
            key = shared.get(message.pk)
            html[message.pk] = _render_message(
                message, context if key is None else NEUTRAL
            )
            if key is not None:
                new[key] = html[message.pk]
    if new:
        _keep(new)
    # Each part is a rendered, autoescaped template. A row gone meanwhile (a
    # member deleted with their messages) is left out.
    return mark_safe("".join(html[row.pk] for row in rows if row.pk in html))
