"""Reports (docs/moderation.md, "Reports"): a member reports something they
may see; its community's moderators (or staff, for members and private
content) resolve it.

- report(): the reporter must be able to see the thing, through the very
  access function of its page (404 otherwise, as an id that does not exist);
  once per thing (the `report_once` constraint, so two tabs at the same
  instant make one report, not a 500); never oneself or one's own content;
  at most REPORTS per reporter and hour (429).
- resolve(): dismiss, delete the content, mute or ban its author; every open
  report of the same thing is closed with it, the audit log records it, and
  each reporter is told the outcome without the moderator's name.
- Both, once committed, send each moderator who sees the report a bare
  notice of their new open count (`<template id="live-reports">`, which the
  page does not swap: static/js/reports.js refreshes the badge and an open
  queue from it). The count is per moderator, so nothing rendered is shared.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy

from chat import broadcast
from communities.access import Forbidden, NotAllowed, RateLimited
from communities.models import Membership
from moderation import audit
from moderation.access import require_can_act_on, require_can_moderate
from moderation.models import ModerationAction, Report, Rule, TargetKind
from presence import notifications
from project.ratelimit import Budget

REPORTS = Budget("reports", limit=10, per=3600)
REPORTING_TOO_FAST = ngettext_lazy(
    "You have sent many reports in a short time. Try again in %(seconds)d second.",
    "You have sent many reports in a short time. Try again in %(seconds)d seconds.",
    "seconds",
)
DETAILS_MAX = 1000
# A mute chosen from the queue lasts a day; the room's mute dialog offers
# other durations.
QUEUE_MUTE_MINUTES = 24 * 60
MODERATING = (Membership.Role.OWNER, Membership.Role.MODERATOR)


@dataclass
class Target:
    """The reported thing as its reporter may see it: who it is by, and whose
    queue it goes to (None: staff's)."""

    obj: Any
    member: Any
    community: Any = None
    topic: Any = None


def _target_id(value) -> int:
    try:
        target_id = int(value)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 0 < target_id < 2**63:
        raise Http404
    return target_id


def find_target(member, kind: str, target_id) -> Target:
    """The thing `member` reports, through its page's own access rule: Http404
    for anything they may not see (or that is not there)."""
    from accounts.access import visible_members
    from chat.access import access_message
    from diary.access import access_entry
    from diary.models import Comment
    from events.access import access_event
    from photos.access import access_photo

    if not member.is_authenticated:
        raise Http404
    target_id = _target_id(target_id)
    if kind == TargetKind.MESSAGE:
        message, membership = access_message(member, target_id)
        if message.is_deleted:
            raise Http404
        topic = message.topic
        return Target(message, message.author, membership.community, topic)
    if kind == TargetKind.ENTRY:
        entry = access_entry(member, target_id)
        return Target(entry, entry.author)
    if kind == TargetKind.COMMENT:
        comment = (
            Comment.objects.visible_to(member)
            .select_related("author")
            .filter(pk=target_id)
            .first()
        )
        if comment is None:
            raise Http404
        return Target(comment, comment.author)
    if kind == TargetKind.PHOTO:
        photo = access_photo(member, target_id)
        return Target(photo, photo.owner)
    if kind == TargetKind.EVENT:
        event = access_event(member, target_id)
        return Target(event, event.organiser, event.community)
    if kind == TargetKind.MEMBER:
        found = visible_members(member).filter(pk=target_id).first()
        if found is None:
            raise Http404
        return Target(found, found)
    raise Http404


def _clean(rule: str, details: str) -> tuple[str, str]:
    if rule not in Rule.values:
        raise NotAllowed(_("Choose a reason from the list."))
    details = (details or "").strip()
    if len(details) > DETAILS_MAX:
        raise NotAllowed(
            _("Details have at most %(max)d characters (these have %(n)d).")
            % {"max": DETAILS_MAX, "n": len(details)}
        )
    return rule, details


def report(reporter, kind: str, target_id, rule: str, details: str = "") -> Report:
    """`reporter` reports a thing they may see (Http404 otherwise). Refused:
    a reason not in Rule (400), details over DETAILS_MAX (400), oneself or
    one's own content (403), a second report of the same thing (400), more
    than REPORTS an hour (429). After commit each moderator who sees it gets
    their new open count (push_counts)."""
    rule, details = _clean(rule, details)
    target = find_target(reporter, kind, target_id)
    if target.member is not None and target.member.pk == reporter.pk:
        raise Forbidden(_("You cannot report yourself or your own content."))
    already = _("You have already reported this.")
    if Report.objects.filter(
        reporter=reporter, target_kind=kind, target_id=target.obj.pk
    ).exists():
        raise NotAllowed(already)
    counted = REPORTS.spend(reporter.pk, REPORTING_TOO_FAST, RateLimited)
    try:
        with transaction.atomic():
            created = Report.objects.create(
                reporter=reporter,
                community=target.community,
                topic=target.topic,
                target_kind=kind,
                target_id=target.obj.pk,
                target_member=target.member,
                rule=rule,
                details=details,
            )
            community_id = created.community_id
            transaction.on_commit(lambda: push_counts(community_id))
    except IntegrityError:
        # Another tab's report of the same thing committed first.
        REPORTS.give_back(counted)
        raise NotAllowed(already) from None
    return created


# --- Who sees which reports ------------------------------------------------------


def moderated_communities(member):
    """Ids of the communities `member` moderates (owner or moderator, active),
    as a subquery."""
    return Membership.objects.filter(
        member=member, status=Membership.Status.ACTIVE, role__in=MODERATING
    ).values("community_id")


def queue_q(member) -> Q:
    """Reports `member` handles: their communities' and, for staff, those
    with no community (members, diaries, photos)."""
    q = Q(community__in=moderated_communities(member))
    if member.is_staff:
        q |= Q(community__isnull=True)
    return q


def open_reports(member):
    return Report.objects.filter(status=Report.Status.OPEN).filter(queue_q(member))


def access_report(member, report_id) -> Report:
    """An open report in `member`'s queue (with its community), else Http404."""
    found = (
        open_reports(member)
        .select_related("community")
        .filter(pk=_target_id(report_id))
        .first()
    )
    if found is None:
        raise Http404
    return found


# --- Resolving -------------------------------------------------------------------

OUTCOMES = {
    Report.Outcome.DISMISSED: ModerationAction.Kind.DISMISS_REPORT,
    Report.Outcome.DELETED: ModerationAction.Kind.RESOLVE_REPORT,
    Report.Outcome.MUTED: ModerationAction.Kind.RESOLVE_REPORT,
    Report.Outcome.BANNED: ModerationAction.Kind.RESOLVE_REPORT,
}


def _require_can_resolve(actor, found: Report) -> None:
    if found.community is None:
        if not actor.is_staff:
            raise Forbidden(_("Only staff can resolve this report."))
    else:
        require_can_moderate(actor, found.community)


def _delete(actor, found: Report) -> None:
    """Remove the reported thing with its own app's deletion."""
    kind, target_id = found.target_kind, found.target_id
    if found.community is not None:
        require_can_act_on(actor, found.community, found.target_member)
    if kind == TargetKind.MESSAGE:
        from chat.models import Message
        from moderation import room

        # The room's deletion: its own audit row and the author's notice.
        message = Message.objects.filter(pk=target_id).first()
        if message is not None:
            room.delete_message(actor, message, rule=found.rule)
    elif kind == TargetKind.EVENT:
        from events import actions as event_actions
        from events.models import Event

        event = Event.objects.filter(pk=target_id).first()
        if event is not None:
            event_actions.cancel_event(actor, event)
    elif kind == TargetKind.ENTRY:
        from diary import actions as diary_actions
        from diary.models import Entry

        entry = Entry.objects.filter(pk=target_id).first()
        if entry is not None:
            diary_actions.delete_entry(entry=entry)
    elif kind == TargetKind.COMMENT:
        from diary import actions as diary_actions
        from diary.models import Comment

        comment = Comment.objects.filter(pk=target_id).first()
        if comment is not None:
            diary_actions.delete_comment(comment=comment)
    elif kind == TargetKind.PHOTO:
        from photos.models import Photo

        # Staff remove it as its owner would (photos.actions.delete_photo
        # refuses anyone else); its files go once this commits.
        Photo.objects.filter(pk=target_id).delete()
    else:
        raise NotAllowed(_("A member cannot be deleted from a report."))


def _act_on_author(actor, found: Report, outcome: str) -> None:
    # Imported here: moderation.members is M1's, and imports the room's code.
    from moderation import members

    if found.community is None or found.target_member is None:
        raise NotAllowed(_("Only a community's members can be muted or banned."))
    reason = Rule(found.rule).label
    if outcome == Report.Outcome.MUTED:
        members.mute_member(
            actor,
            found.community,
            found.target_member,
            minutes=QUEUE_MUTE_MINUTES,
            reason=str(reason),
            rule=found.rule,
        )
    else:
        members.ban_member(
            actor,
            found.community,
            found.target_member,
            reason=str(reason),
            rule=found.rule,
        )


def resolve(actor, found: Report, outcome: str) -> int:
    """Resolve `found` (from access_report) with `outcome`: dismiss it, delete
    the thing, or mute or ban its author (those two through moderation.access:
    a moderator may not act on the owner or another moderator, 403). Every
    open report of the same thing closes with it, in one transaction with
    the action and its audit row; each reporter is notified
    ("report_resolved", no actor). After commit the moderators' counts are
    pushed. Returns how many reports were closed."""
    if outcome not in OUTCOMES:
        raise NotAllowed(_("Choose what to do with this report."))
    _require_can_resolve(actor, found)
    with transaction.atomic():
        # Locked: of two moderators resolving at once, the second finds
        # nothing open and changes nothing.
        same = list(
            Report.objects.select_for_update()
            .filter(
                status=Report.Status.OPEN,
                target_kind=found.target_kind,
                target_id=found.target_id,
            )
            .order_by("pk")
        )
        if not same:
            raise NotAllowed(_("This report has already been resolved."))
        if outcome == Report.Outcome.DELETED:
            _delete(actor, found)
        elif outcome in (Report.Outcome.MUTED, Report.Outcome.BANNED):
            _act_on_author(actor, found, outcome)
        status = (
            Report.Status.DISMISSED
            if outcome == Report.Outcome.DISMISSED
            else Report.Status.ACTIONED
        )
        Report.objects.filter(pk__in=[r.pk for r in same]).update(
            status=status,
            outcome=outcome,
            resolved_by=actor,
            resolved_at=timezone.now(),
        )
        audit.record(
            OUTCOMES[outcome],
            actor=actor,
            community=found.community,
            member=found.target_member,
            target_kind=found.target_kind,
            target_id=found.target_id,
            topic=found.topic,
            rule=found.rule,
            detail=outcome,
        )
        for each in same:
            notifications.notify(each.reporter_id, "report_resolved", target_id=each.pk)
        community_id = found.community_id
        transaction.on_commit(lambda: push_counts(community_id))
    return len(same)


# --- Counts, and the live notice -------------------------------------------------


def open_count(member) -> int:
    """`member`'s open reports: one query."""
    return open_reports(member).count()


def counts_for_moderators(community_id: int | None) -> dict[int, int]:
    """Each moderator who handles reports of `community_id` (staff for None)
    with their open count, in two queries however many there are."""
    from accounts.models import Member

    if community_id is None:
        ids = list(
            Member.objects.filter(is_staff=True, is_active=True).values_list(
                "pk", flat=True
            )
        )
    else:
        ids = list(
            Membership.objects.filter(
                community_id=community_id,
                status=Membership.Status.ACTIVE,
                role__in=MODERATING,
            ).values_list("member_id", flat=True)
        )
    if not ids:
        return {}
    counts: dict[int, int] = defaultdict(int)
    moderator = "community__memberships__member"
    rows = (
        Report.objects.filter(
            status=Report.Status.OPEN,
            community__memberships__member__in=ids,
            community__memberships__status=Membership.Status.ACTIVE,
            community__memberships__role__in=MODERATING,
        )
        .values(moderator)
        .annotate(n=Count("pk"))
    )
    for row in rows:
        counts[row[moderator]] += row["n"]
    staff = set(
        Member.objects.filter(pk__in=ids, is_staff=True).values_list("pk", flat=True)
    )
    if staff:
        unowned = Report.objects.filter(
            status=Report.Status.OPEN, community__isnull=True
        ).count()
        for member_id in staff:
            counts[member_id] += unowned
    return {member_id: counts[member_id] for member_id in ids}


def notice(count: int) -> str:
    """The bare live notice (no words, no language): the new open count."""
    return f'<template id="live-reports" data-count="{int(count)}"></template>'


def push_counts(community_id: int | None) -> None:
    """After commit: every moderator of the community (staff for None) gets
    their open count on all their open tabs."""
    by_count: dict[int, list[int]] = defaultdict(list)
    for member_id, count in counts_for_moderators(community_id).items():
        by_count[count].append(member_id)
    for count, member_ids in by_count.items():
        broadcast.send_html_to_members(member_ids, notice(count))


def can_see_queue(member) -> bool:
    return member.is_authenticated and (
        member.is_staff or moderated_communities(member).exists()
    )
