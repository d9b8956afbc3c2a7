"""Footprints (足あと): who opened a member's page or one of their diary entries.

One row per visitor, owner and day (the site's time zone), keeping the latest
time and counting the visits. Only the owner ever sees them: the Footprints
page (presence/footprint_views.py), the nav badge and the live notice pushed
to the owner's own group `user.<id>`; nothing else reads this table.

Recording is ONE statement on the page's request (an upsert: INSERT ... ON
CONFLICT DO UPDATE), so two tabs opening the page at the same instant make
one row with two visits, never a lost update or a unique-constraint error;
the block and "Leave footprints" checks ride in the same statement. The live
notice goes out after the commit.

"Leave footprints" is fair both ways: a member who turns it off leaves no
footprint, and no one leaves one on them (they see no one's).
"""

import datetime
import logging

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.actions import ActionRefused
from accounts.models import Block, Member
from chat import broadcast
from presence import notifications
from presence.models import Footprint, FootprintErasure

logger = logging.getLogger(__name__)

# Footprints are kept and listed this many days (today included).
DAYS_KEPT = 30
# A visitor may delete their footprints this many times a calendar month.
ERASURES_PER_MONTH = 10
PAGE_SIZE = 30


def today() -> datetime.date:
    return timezone.localdate()


def first_day_kept(day: datetime.date | None = None) -> datetime.date:
    """The oldest day the Footprints page lists (and the purge keeps)."""
    return (day or today()) - datetime.timedelta(days=DAYS_KEPT - 1)


def _upsert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(Footprint._meta.db_table)
    blocks = quote(Block._meta.db_table)
    members = quote(Member._meta.db_table)
    # The latest time wins even when two visits commit out of order.
    latest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    # SQLite needs the WHERE in INSERT ... SELECT ... ON CONFLICT (it would
    # read ON as a join otherwise); it is there anyway.
    return (
        f"INSERT INTO {table} (owner_id, visitor_id, day, visited_at, visits) "
        "SELECT %(owner)s, %(visitor)s, %(day)s, %(at)s, 1 "
        f"WHERE (SELECT COUNT(*) FROM {members} m WHERE m.id IN (%(owner)s, "
        "%(visitor)s) AND m.leaves_footprints AND m.is_active) = 2 "
        f"AND NOT EXISTS (SELECT 1 FROM {blocks} b WHERE "
        "(b.blocker_id = %(owner)s AND b.blocked_id = %(visitor)s) OR "
        "(b.blocker_id = %(visitor)s AND b.blocked_id = %(owner)s)) "
        "ON CONFLICT (owner_id, visitor_id, day) DO UPDATE SET "
        f"visited_at = {latest}({table}.visited_at, excluded.visited_at), "
        f"visits = {table}.visits + 1 "
        "RETURNING visits"
    )


def record_visit(*, owner: Member, visitor: Member) -> bool:
    """`visitor` opened a page of `owner` they may see: leave (or refresh)
    today's footprint. Call only after the page's access check passed.

    Nothing for oneself, between members a block separates (either way), or
    when either has "Leave footprints" off. One statement; after the commit,
    the owner's open tabs get the notice and the new count (never anyone
    else's). Returns whether a footprint was left."""
    if (
        not visitor.is_authenticated
        or owner.pk == visitor.pk
        or not visitor.leaves_footprints
        or not owner.leaves_footprints
    ):
        return False
    now = timezone.now()
    day = timezone.localdate(now)
    with connection.cursor() as cursor:
        cursor.execute(
            _upsert_sql(),
            {"owner": owner.pk, "visitor": visitor.pk, "day": day, "at": now},
        )
        row = cursor.fetchone()
    if row is None:
        return False
    owner_id, nickname = owner.pk, visitor.nickname
    visitor_id = visitor.pk
    transaction.on_commit(
        lambda: announce_footprint(
            owner_id=owner_id, visitor_id=visitor_id, nickname=nickname, day=day
        )
    )
    return True


# --- What the owner sees ---------------------------------------------------------


def visible_footprints(owner: Member):
    """The owner's footprints they may see: none when they leave none
    themselves; none of members a block now separates from them, nor of
    deactivated members."""
    if not owner.leaves_footprints:
        return Footprint.objects.none()
    return Footprint.objects.filter(owner=owner, visitor__is_active=True).exclude(
        visitor__in=Block.objects.hidden_ids_for(owner)
    )


def visitors(owner: Member):
    """One row per visitor of the last DAYS_KEPT days, latest first: their
    nickname, avatar, latest time, visits and days. One query (plus the
    paginator's count)."""
    return (
        visible_footprints(owner)
        .filter(day__gte=first_day_kept())
        .values("visitor_id", "visitor__nickname", "visitor__avatar")
        .annotate(
            last_visit=Max("visited_at"),
            total_visits=Sum("visits"),
            days=Count("id"),
        )
        .order_by("-last_visit", "visitor_id")
    )


def count_today(owner: Member) -> int:
    """How many members left a footprint on `owner` today (the nav badge)."""
    if not owner.leaves_footprints:
        return 0
    return visible_footprints(owner).filter(day=today()).count()


def badge_html(count: int, *, oob: bool = False) -> str:
    return render_to_string(
        "presence/_footprint_badge.html", {"footprints_today": count, "oob": oob}
    )


def notice_html(nickname: str) -> str:
    """The live notice, rendered once in every language of the site (the
    member's group has no language; the page's CSS shows its own)."""
    texts = []
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            texts.append(
                (code, _("%(nickname)s left a footprint") % {"nickname": nickname})
            )
    return render_to_string("presence/_footprint_notice.html", {"texts": texts})


def announce_footprint(
    *, owner_id: int, visitor_id: int, nickname: str, day: datetime.date
) -> None:
    """After the commit: tell the owner's open tabs (their group only) who
    left a footprint, with today's new count; and record the notification."""
    owner = Member(pk=owner_id, leaves_footprints=True)
    html = notice_html(nickname) + badge_html(count_today(owner), oob=True)
    broadcast.send_html_to_member(owner_id, html)
    try:
        notifications.notify(
            owner_id,
            kind="footprint",
            actor_id=visitor_id,
            target_id=None,
            group_key=f"footprint:{day.isoformat()}",
        )
    except Exception:
        # The footprint is recorded; a notification that failed must not
        # turn the visitor's page into an error.
        logger.exception("Footprint notification for %s was not made", owner_id)


def push_badge(owner_id: int) -> None:
    """Send the owner's open tabs their count again (a footprint deleted)."""
    owner = Member(pk=owner_id, leaves_footprints=True)
    broadcast.send_html_to_member(owner_id, badge_html(count_today(owner), oob=True))


# --- A visitor deletes their footprint ---------------------------------------------


class ErasureQuotaExceeded(ActionRefused):
    pass


def month_start(now: datetime.datetime | None = None) -> datetime.datetime:
    """The start of the current calendar month in the site's time zone."""
    local = timezone.localtime(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def erasures_left(visitor: Member) -> int:
    used = FootprintErasure.objects.filter(
        visitor=visitor, erased_at__gte=month_start()
    ).count()
    return max(0, ERASURES_PER_MONTH - used)


def erase_footprint(*, visitor: Member, owner: Member) -> int:
    """Delete every footprint `visitor` left on `owner` (their whole line on
    the owner's page), at most ERASURES_PER_MONTH times a calendar month.

    Refused (ActionRefused) past the quota or when there is nothing to
    delete; nothing changes then. The visitor's row is locked so two
    deletions at once cannot both pass the count. After the commit the
    owner's open tabs get their new count. Returns the rows deleted."""
    with transaction.atomic():
        Member.objects.select_for_update().filter(pk=visitor.pk).first()
        mine = Footprint.objects.filter(owner=owner, visitor=visitor)
        if not mine.exists():
            raise ActionRefused(
                _("You have left no footprint on %(nickname)s's page.")
                % {"nickname": owner.nickname}
            )
        if erasures_left(visitor) <= 0:
            raise ErasureQuotaExceeded(
                ngettext(
                    "You have deleted a footprint %(count)d time this month, as"
                    " many as a month allows. You can again next month.",
                    "You have deleted footprints %(count)d times this month, as"
                    " many as a month allows. You can again next month.",
                    ERASURES_PER_MONTH,
                )
                % {"count": ERASURES_PER_MONTH}
            )
        deleted, _by_model = mine.delete()
        FootprintErasure.objects.create(visitor=visitor)
        owner_id = owner.pk
        transaction.on_commit(lambda: push_badge(owner_id))
    return deleted


# --- The purge ------------------------------------------------------------------------


def purge(now: datetime.datetime | None = None) -> tuple[int, int]:
    """Delete footprints older than DAYS_KEPT days and erasures from before
    this month (they no longer count). Returns both numbers."""
    now = now or timezone.now()
    oldest = first_day_kept(timezone.localdate(now))
    footprints, _by_model = Footprint.objects.filter(day__lt=oldest).delete()
    erasures, _by_model = FootprintErasure.objects.filter(
        erased_at__lt=month_start(now)
    ).delete()
    return footprints, erasures
