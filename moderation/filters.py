"""What a community lets into its topics: its word list and the link wait
(docs/moderation.md, "Filters and limits"). chat's send path asks
check_message before it saves a message.

Words are matched on the text as NFKC folds it and casefold lowers it, so
full-width "ＳＰＡＭ" and half-width "ｽﾊﾟﾑ" are the "spam" and "スパム" a
moderator wrote. A pattern in Latin script matches whole words only ("ass" is
not in "class"); one with kana or kanji matches anywhere, since Japanese puts
no spaces between words ("バカ" is in "お前バカだな"). "*" stands for any
letters: "spam*", "*coin".

The link wait counts from Membership.created_at, the time the member joined
this community (a member who leaves and comes back waits again), not from
their account's age: a long-standing account new to a community is as
unknown to its moderators as a new one. Moderators and staff do not wait.
"""

import functools
import re
import unicodedata
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from communities.access import NotAllowed, membership_of
from moderation import audit
from moderation.models import HeldMessage, ModerationAction, WordFilter

HOLD = "hold"

# Kana, kanji, hangul and CJK punctuation, as NFKC leaves them (half-width
# katakana is folded to full width before this is asked).
_CJK = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_HAS_CJK = re.compile(f"[{_CJK}]")
# A letter or digit of a spaced script: what a Latin word may not touch.
_SPACED = rf"[^\W{_CJK}]"

# URLs, "www." and bare domains under a common top-level domain (a list, so
# that "file.txt" or "Mr.Smith" are not taken for links).
_TLDS = (
    "com|net|org|info|biz|jp|io|co|me|app|dev|xyz|ly|gl|gg|to|tv|ai|cc|us|uk|"
    "de|fr|ru|cn|kr|tw|hk|in|site|online|shop|top|club|link|click|live|page"
)
_LINK = re.compile(
    rf"(?:https?://|www\.|(?<![a-z0-9.@-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:{_TLDS})"
    r"(?![a-z0-9-]))",
    re.IGNORECASE,
)


class HeldForReview(NotAllowed):
    """Not posted: kept for a moderator (answered like a refusal, so the
    author is told where they wrote it)."""

    status = 202

    def __init__(self, message=None):
        super().__init__(
            message or _("Your message is held for a moderator to review.")
        )


def fold(text: str) -> str:
    """Text as it is matched: NFKC (full and half width alike), casefolded."""
    return unicodedata.normalize("NFKC", text).casefold()


def clean_pattern(pattern: str) -> str:
    """A pattern as it is stored: folded, runs of "*" made one; NotAllowed
    when nothing but wildcards is left."""
    pattern = re.sub(r"\*+", "*", fold(pattern).strip())
    if not pattern.replace("*", "").strip():
        raise NotAllowed(_("Write a word, or a word with * for any letters."))
    if any(c.isspace() for c in pattern):
        raise NotAllowed(_("Write one word at a time."))
    return pattern


def _regex(pattern: str) -> str:
    if _HAS_CJK.search(pattern):
        # Japanese has no spaces between words: anywhere, and a wildcard at
        # either end adds nothing to a substring.
        return r"\w*?".join(re.escape(part) for part in pattern.strip("*").split("*"))
    body = f"{_SPACED}*".join(re.escape(part) for part in pattern.split("*"))
    return rf"(?<!{_SPACED}){body}(?!{_SPACED})"


@functools.lru_cache(maxsize=256)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern | None:
    # Keyed by the list itself: a change to it is a new key, so no process
    # ever matches against a list another one has changed since.
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{_regex(fold(p))})" for p in patterns))


def _first_match(patterns, text: str) -> str | None:
    regex = _compiled(tuple(sorted(patterns)))
    match = regex.search(text) if regex is not None else None
    return match.group(0) if match else None


def contains_link(body: str) -> bool:
    return _LINK.search(fold(body)) is not None


def _check_links(community, author, body: str) -> None:
    hours = community.link_wait_hours
    if not hours or not contains_link(body) or author.is_staff:
        return
    membership = membership_of(author, community)
    if membership is None or membership.is_moderator:
        return
    if timezone.now() - membership.created_at < timedelta(hours=hours):
        raise NotAllowed(
            ngettext(
                "New members can post links after %(hours)d hour.",
                "New members can post links after %(hours)d hours.",
                hours,
            )
            % {"hours": hours}
        )


def check_message(community, author, body: str) -> str | None:
    """None when the message may be posted; HOLD when a word filter holds it
    for review; raises communities.access.NotAllowed (with a clear reason)
    when a filter refuses it or the member may not post links yet.

    One query for the word list (and one for the membership when the body
    has a link and the community has a link wait)."""
    _check_links(community, author, body)
    rows = list(
        WordFilter.objects.filter(community=community).values_list("pattern", "action")
    )
    if not rows:
        return None
    text = fold(body)
    blocked = _first_match([p for p, a in rows if a == WordFilter.Action.BLOCK], text)
    if blocked:
        raise NotAllowed(
            _("This message contains a word this community does not allow: “%(word)s”.")
            % {"word": blocked}
        )
    if _first_match([p for p, a in rows if a == WordFilter.Action.HOLD], text):
        return HOLD
    return None


def matched_word(community, body: str) -> str:
    """The word of the community's list `body` trips, for the moderator."""
    patterns = WordFilter.objects.filter(community=community).values_list(
        "pattern", flat=True
    )
    return _first_match(list(patterns), fold(body)) or ""


def hold_message(
    *, topic, author, body: str, client_id: str, reply_to_id: int | None = None
) -> HeldMessage:
    """Keep a message a filter held, for the community's moderators (audited
    as HOLD, by no one: the filter did it). A resend of the same form holds
    nothing new."""
    existing = HeldMessage.objects.filter(
        author=author, topic=topic, client_id=client_id
    ).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        held = HeldMessage.objects.create(
            topic=topic,
            author=author,
            body=body,
            client_id=client_id,
            reply_to_id=reply_to_id,
            matched=matched_word(topic.community, body)[:100],
        )
        audit.record(
            ModerationAction.Kind.HOLD,
            actor=None,
            community=topic.community,
            member=author,
            topic=topic,
            detail=held.matched,
        )
    return held


MAX_FILTERS = 200
LINK_WAIT_MAX_HOURS = 24 * 30


def add_filter(*, actor, community, pattern: str, action: str) -> WordFilter:
    """Add a word or pattern to the community's list (the caller checked the
    actor moderates it); audited as FILTER."""
    pattern = clean_pattern(pattern)
    if action not in WordFilter.Action.values:
        raise NotAllowed(_("Choose what happens to a message with this word."))
    with transaction.atomic():
        if WordFilter.objects.filter(community=community).count() >= MAX_FILTERS:
            raise NotAllowed(
                _("A community has at most %(max)d words on its list.")
                % {"max": MAX_FILTERS}
            )
        word_filter, created = WordFilter.objects.get_or_create(
            community=community,
            pattern=pattern,
            defaults={"action": action, "created_by": actor},
        )
        if not created and word_filter.action == action:
            raise NotAllowed(_("This word is on the list already."))
        word_filter.action = action
        word_filter.save(update_fields=["action"])
        audit.record(
            ModerationAction.Kind.FILTER,
            actor=actor,
            community=community,
            detail=f"+{pattern} ({action})",
        )
    return word_filter


def remove_filter(*, actor, community, filter_id: int) -> None:
    with transaction.atomic():
        word_filter = WordFilter.objects.filter(
            community=community, pk=filter_id
        ).first()
        if word_filter is None:
            raise NotAllowed(_("This word is not on the list."))
        word_filter.delete()
        audit.record(
            ModerationAction.Kind.FILTER,
            actor=actor,
            community=community,
            detail=f"-{word_filter.pattern}",
        )


def set_link_wait(*, actor, community, hours: int) -> None:
    if not 0 <= hours <= LINK_WAIT_MAX_HOURS:
        raise NotAllowed(
            _("Choose from 0 to %(max)d hours.") % {"max": LINK_WAIT_MAX_HOURS}
        )
    with transaction.atomic():
        type(community).objects.filter(pk=community.pk).update(link_wait_hours=hours)
        community.link_wait_hours = hours
        audit.record(
            ModerationAction.Kind.FILTER,
            actor=actor,
            community=community,
            detail=f"link wait {hours} h",
        )
