"""Notifications: one model, one page, one badge for everything a member
should know, and a registry of kinds so that a new kind is one small addition.

A kind (`Kind`, registered with `register`) says:
- what its `target_id` points to, and how to load a page's worth of those in
  one query (`load`);
- who may still see it (`visible`): a Q on Notification rows, built from the
  same readers the pages use (`Comment.objects.visible_to(recipient)`,
  chat.access's rule, ...). It is applied each time a row is read, in the
  same query as the row: a comment later hidden by a narrowed audience or a
  block leaves the list and the unread count at once;
- where its line leads (`url`) and how its line reads (`template`);
- how its rows group (`group_key`): ten likes on one entry are one line.

Writes: `notify` records a row inside the caller's transaction and, once it
commits, pushes the member's new unread count to every open tab
(`user.<id>`, chat/broadcast.py) and asks presence.push to reach the
member's devices. Nothing is recorded between members a block separates,
for a kind the member turned off, or (for a kind that says so) from a topic
they muted.

Reads count and list lines, not rows: every row of a group shares its
`group_key`, and a page is one aggregate query over the visible rows, one
query for the latest row of each line, and one query per kind shown to load
the targets, however many rows there are (tests/presence).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from accounts.models import Block
from chat import broadcast
from presence.models import Notification, NotificationSetting

logger = logging.getLogger(__name__)

PAGE_SIZE = 20
BADGE_TEMPLATE = "presence/notifications_badge.html"


@dataclass(frozen=True)
class Kind:
    """One kind of notification. See the module docstring."""

    name: str
    # Shown beside its checkbox on the settings page (gettext_lazy).
    label: Any
    # The line's template (a partial name is fine): gets `line` (Line).
    template: str
    # recipient -> Q on Notification rows of this kind that they may still see.
    visible: Callable[[Any], Q]
    # target ids -> {id: target}, in one query.
    load: Callable[[list[int]], dict[int, Any]]
    # (target, line) -> the URL the line opens.
    url: Callable[[Any, Line], str]
    # (target_id, actor_id) -> the group of a new row; None: a line of its own.
    group_key: Callable[[int | None, int | None], str] | None = None
    # (recipient_id, target_id) -> False to record nothing (a muted topic).
    recordable: Callable[[int, int | None], bool] | None = None
    # A member's new row replaces their earlier one in the same group (a
    # footprint refreshed by each visit, a like taken back and given again):
    # the line moves up, and the table holds one row per member and group.
    replaces_own: bool = False


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add a kind (from an app's AppConfig.ready)."""
    KINDS[kind.name] = kind
    return kind


# --- Writes -----------------------------------------------------------------------


def notify(
    recipient_id: int,
    kind: str,
    *,
    actor_id: int | None = None,
    target_id: int | None = None,
    group_key: str = "",
) -> Notification | None:
    """Record that `recipient_id` should know about `target_id` (of `kind`),
    done by `actor_id`; inside the caller's transaction, if any.

    Records nothing (returns None) for oneself, between members a block
    separates, for a kind the recipient turned off, or when the kind's
    `recordable` says no (a muted topic). After commit: the recipient's new
    unread badge to all their open tabs, and presence.push.notify_devices
    to reach their devices."""
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"Unknown notification kind {kind!r}")
    if actor_id is not None:
        if actor_id == recipient_id:
            return None
        if Block.objects.filter(
            Q(blocker_id=recipient_id, blocked_id=actor_id)
            | Q(blocker_id=actor_id, blocked_id=recipient_id)
        ).exists():
            return None
    if NotificationSetting.objects.filter(
        member_id=recipient_id, kind=kind, enabled=False
    ).exists():
        return None
    if spec.recordable is not None and not spec.recordable(recipient_id, target_id):
        return None
    if not group_key and spec.group_key is not None:
        group_key = spec.group_key(target_id, actor_id) or ""
    if not group_key:
        group_key = f"{kind}:{uuid.uuid4().hex}"
    group_key = group_key[:200]
    with transaction.atomic():
        if spec.replaces_own and actor_id is not None:
            Notification.objects.filter(
                recipient_id=recipient_id, group_key=group_key, actor_id=actor_id
            ).delete()
        notification = Notification.objects.create(
            recipient_id=recipient_id,
            kind=kind,
            actor_id=actor_id,
            target_id=target_id,
            group_key=group_key,
        )
        transaction.on_commit(lambda: _after_notify(recipient_id))
    return notification


def _after_notify(recipient_id: int) -> None:
    # Imported here: presence.push imports accounts.actions, which imports
    # this module.
    from presence import push

    push_badge(recipient_id)
    try:
        push.notify_devices(recipient_id, reverse("presence:notifications"))
    except Exception:
        # The notification is saved and the badge pushed: a device that
        # cannot be reached must not undo the write that caused it.
        logger.exception("Web Push for member %s failed", recipient_id)


def mark_all_read(*, member) -> int:
    """Mark every notification of `member` read; after commit, every open
    tab of theirs shows the new count (zero, or what arrived meanwhile)."""
    with transaction.atomic():
        count = Notification.objects.filter(
            recipient=member, read_at__isnull=True
        ).update(read_at=timezone.now())
        member_id = member.pk
        transaction.on_commit(lambda: push_badge(member_id))
    return count


def mark_read(*, member, notification_id: int) -> Notification | None:
    """Mark the line (every row of its group) that `notification_id` belongs
    to read, if `member` may see it; None otherwise (answered as missing).
    After commit every open tab of theirs shows the new count."""
    notification = visible_rows(member).filter(pk=notification_id).first()
    if notification is None:
        return None
    with transaction.atomic():
        Notification.objects.filter(
            recipient=member,
            group_key=notification.group_key,
            read_at__isnull=True,
        ).update(read_at=timezone.now())
        member_id = member.pk
        transaction.on_commit(lambda: push_badge(member_id))
    return notification


def set_enabled(*, member, kind: str, enabled: bool) -> None:
    if kind not in KINDS:
        raise ValueError(f"Unknown notification kind {kind!r}")
    NotificationSetting.objects.update_or_create(
        member=member, kind=kind, defaults={"enabled": enabled}
    )


def enabled_kinds(member) -> set[str]:
    off = set(
        NotificationSetting.objects.filter(member=member, enabled=False).values_list(
            "kind", flat=True
        )
    )
    return {name for name in KINDS if name not in off}


# --- Reads ------------------------------------------------------------------------


def visible_rows(member):
    """`member`'s notifications they may see now: of a registered kind whose
    check still lets them see the target, and not from a member hidden from
    them by a block or deactivated. One queryset, no query of its own."""
    allowed = Q(pk__in=[])
    for spec in KINDS.values():
        allowed |= Q(kind=spec.name) & spec.visible(member)
    return (
        Notification.objects.filter(recipient=member)
        .filter(allowed)
        .filter(Q(actor__isnull=True) | Q(actor__is_active=True))
        .exclude(actor__in=Block.objects.hidden_ids_for(member))
    )


def unread_count(member) -> int:
    """Unread lines (groups) `member` may see: one query."""
    return (
        visible_rows(member)
        .filter(read_at__isnull=True)
        .aggregate(n=Count("group_key", distinct=True))["n"]
    )


def line_groups(member):
    """One row per line, newest first: the group, its latest row's id, how
    many members did it, whether any of it is unread. For a Paginator."""
    return (
        visible_rows(member)
        .values("group_key")
        .annotate(
            latest_id=Max("id"),
            actors=Count("actor", distinct=True),
            unread=Count("id", filter=Q(read_at__isnull=True)),
        )
        .order_by("-latest_id")
    )


@dataclass
class Line:
    """One line of the notifications page."""

    notification: Notification
    kind: Kind
    target: Any
    actors: int
    unread: bool
    url: str = ""

    @property
    def id(self) -> int:
        return self.notification.pk

    @property
    def actor(self):
        return self.notification.actor

    @property
    def others(self) -> int:
        """Members besides the latest actor ("ben and 9 others")."""
        return max(self.actors - 1, 0)

    @property
    def created_at(self):
        return self.notification.created_at


def lines(groups) -> list[Line]:
    """Lines for a page of `line_groups`: one query for the latest rows (with
    their actors), one per kind among them for the targets."""
    groups = list(groups)
    rows = Notification.objects.filter(
        pk__in=[group["latest_id"] for group in groups]
    ).select_related("actor")
    rows = {row.pk: row for row in rows}
    wanted = defaultdict(set)
    for row in rows.values():
        if row.target_id is not None:
            wanted[row.kind].add(row.target_id)
    targets = {kind: KINDS[kind].load(sorted(ids)) for kind, ids in wanted.items()}
    result = []
    for group in groups:
        row = rows.get(group["latest_id"])
        if row is None or row.kind not in KINDS:
            continue
        target = None
        if row.target_id is not None:
            target = targets.get(row.kind, {}).get(row.target_id)
            if target is None:
                # Gone between the two queries.
                continue
        line = Line(
            notification=row,
            kind=KINDS[row.kind],
            target=target,
            actors=group["actors"],
            unread=group["unread"] > 0,
        )
        line.url = line.kind.url(target, line)
        result.append(line)
    return result


def open_url(member, notification_id: int) -> str | None:
    """Mark the line read and return where it leads; None if `member` may
    not see it (any more)."""
    notification = mark_read(member=member, notification_id=notification_id)
    if notification is None:
        return None
    spec = KINDS[notification.kind]
    target = None
    if notification.target_id is not None:
        target = spec.load([notification.target_id]).get(notification.target_id)
        if target is None:
            return None
    line = Line(
        notification=notification, kind=spec, target=target, actors=1, unread=False
    )
    return spec.url(target, line)


# --- The badge --------------------------------------------------------------------


def badge_labels(count: int) -> list[tuple[str, str]]:
    """The navigation link's accessible name in every language: the link
    names the one of its page's language (aria-labelledby), so one pushed
    fragment serves every tab."""
    labels = []
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            if count:
                label = ngettext(
                    "Notifications, %(count)d unread",
                    "Notifications, %(count)d unread",
                    count,
                ) % {"count": count}
            else:
                label = gettext("Notifications")
        labels.append((code, label))
    return labels


def badge_html(count: int, *, oob: bool = True) -> str:
    return render_to_string(
        BADGE_TEMPLATE,
        {
            "unread_notifications": count,
            "notification_labels": badge_labels(count),
            "oob": oob,
        },
    )


def push_badge(member_id: int) -> None:
    """Send `member_id`'s open tabs their unread count (rendered once). Call
    after the change has committed."""
    from accounts.models import Member

    count = unread_count(Member(pk=member_id))
    broadcast.send_html_to_member(member_id, badge_html(count))


def navigation(request):
    """Context processor: the unread count for the navigation's badge, as a
    callable the template calls when it shows it (one query on a full page,
    none for an htmx fragment that does not show it)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    count = functools.cache(lambda: unread_count(user))
    return {
        "unread_notifications": count,
        "notification_labels": functools.cache(lambda: badge_labels(count())),
    }
