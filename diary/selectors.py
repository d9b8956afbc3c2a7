"""Reads of diary entries for pages other than the diary's own: the home
feed and a member's latest entries. Each starts from who is looking and goes
through Entry.objects.visible_to; each is one query, whatever the rows."""

from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.audience import friend_ids, friend_of_friend_ids
from diary.models import Entry
from project.input import BadInput

FEED_SIZE = 20
LATEST_SHOWN = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_cursor(entry) -> str:
    """Where the next page starts: after (created_at, id) of `entry`, in whole
    microseconds (no float rounding between a page and the next)."""
    return f"{(entry.created_at - _EPOCH) // _MICROSECOND}-{entry.pk}"


def decode_cursor(value: str | None) -> tuple[datetime, int] | None:
    if not value:
        return None
    try:
        micros, pk = (int(part) for part in value.split("-", 1))
        if micros < 0 or not 0 < pk < 2**63:
            raise ValueError
        return _EPOCH + timedelta(microseconds=micros), pk
    except (ValueError, OverflowError):
        raise BadInput(_("This link to older entries is broken.")) from None


def home_feed(viewer, *, before: tuple[datetime, int] | None = None, size=FEED_SIZE):
    """The newest entries of `viewer`'s friends and friends of friends that
    their audiences let `viewer` see (never their own), newest first, after
    the cursor `before`; and the cursor of the next page (None at the end).
    One query, keyset-paginated on (created_at, id)."""
    entries = (
        Entry.objects.visible_to(viewer)
        .filter(
            Q(author__in=friend_ids(viewer))
            | Q(author__in=friend_of_friend_ids(viewer))
        )
        .exclude(author=viewer)
        .select_related("author")
        .order_by("-created_at", "-pk")
    )
    if before is not None:
        created_at, pk = before
        entries = entries.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk)
        )
    rows = list(entries[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (encode_cursor(rows[-1]) if more else None)


def latest_entries(member, viewer, count: int = LATEST_SHOWN) -> list:
    """The newest entries of `member` that `viewer` may see (their page)."""
    return list(
        Entry.objects.visible_to(viewer)
        .filter(author=member)
        .order_by("-created_at", "-pk")[:count]
    )
