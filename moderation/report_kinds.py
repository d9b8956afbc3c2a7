"""The notification kind of a report's outcome, "report_resolved" (registered
by ModerationConfig.ready beside moderation/kinds.py's).

Its target is the reporter's own Report: what was reported, where, and what
came of it; never who resolved it (the row is recorded with no actor, and
the line's template reads nothing of `resolved_by`). The line lasts as long
as the report row does. Lines are partials of
moderation/report_lines.html."""

from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from moderation.models import Report
from presence.notifications import Kind, register

LINES = "moderation/report_lines.html"


def _own_report_visible(recipient) -> Q:
    return Q(
        Exists(
            Report.objects.filter(
                pk=OuterRef("target_id"),
                reporter=recipient,
                status__in=[Report.Status.DISMISSED, Report.Status.ACTIONED],
            )
        )
    )


def register_all() -> None:
    register(
        Kind(
            name="report_resolved",
            label=_("What came of my reports"),
            template=f"{LINES}#report_resolved",
            visible=_own_report_visible,
            load=lambda ids: Report.objects.select_related("community").in_bulk(ids),
            url=lambda report, line: reverse("presence:notifications"),
        )
    )
