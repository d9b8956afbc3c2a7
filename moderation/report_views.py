"""The report form, the moderators' queue ("Reports") and the topic page's
moderator panel. Thin: moderation/reports.py decides who sees and does what.

Who sees the queue: staff, and members who moderate (own or are moderators
of) at least one community. Anyone else is refused with 403, not 404: the
page exists for everyone and hides nothing; which reports it lists is
per-moderator (reports.queue_q).
"""

from django import forms
from django.contrib import messages as flash
from django.db.models import Count, Exists, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Member
from chat.access import access_topic
from communities.access import Forbidden, NotAllowed
from moderation import reports
from moderation.access import require_can_moderate
from moderation.models import Report, Rule, TargetKind
from project.refusals import refusal, refused

QUEUE_SIZE = 100
PANEL_SIZE = 5


class ReportForm(forms.Form):
    rule = forms.ChoiceField(
        label=gettext_lazy("Reason"), choices=Rule.choices, widget=forms.RadioSelect
    )
    details = forms.CharField(
        label=gettext_lazy("Details"),
        required=False,
        max_length=reports.DETAILS_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


def _next_url(request, target) -> str:
    asked = request.POST.get("next") or request.GET.get("next") or ""
    if asked and url_has_allowed_host_and_scheme(
        asked, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return asked
    url = getattr(target.obj, "get_absolute_url", None)
    return url() if url else "/"


def report_form(request):
    """GET ?kind=<TargetKind>&id=<id>: the form (404 for what the member may
    not see); POST: the report. With HX-Request a refusal is answered as
    project.refusals says, and the thanks replace the form."""
    data = request.POST if request.method == "POST" else request.GET
    kind, target_id = data.get("kind", ""), data.get("id", "")
    target = reports.find_target(request.user, kind, target_id)
    form = ReportForm(request.POST or None)
    status, retry_after = 200, None
    if request.method == "POST" and form.is_valid():
        try:
            reports.report(
                request.user,
                kind,
                target_id,
                form.cleaned_data["rule"],
                form.cleaned_data["details"],
            )
        except NotAllowed as exc:
            if request.htmx:
                return refused(request, exc)
            form.add_error(None, str(exc))
            status = exc.status
            retry_after = getattr(exc, "retry_after", None)
        else:
            if request.htmx:
                return TemplateResponse(request, "moderation/report_form.html#done")
            flash.success(request, _("Thank you. The moderators will look at it."))
            return redirect(_next_url(request, target))
    response = TemplateResponse(
        request,
        "moderation/report_form.html",
        {
            "form": form,
            "kind": kind,
            "target_id": target.obj.pk,
            "item": _Item(None, target.obj, kind),
            "next": data.get("next", ""),
        },
        status=status,
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


class _Item:
    """A queue line: the report and the reported thing (None if gone)."""

    def __init__(self, report, target, kind):
        self.report, self.target, self.kind = report, target, kind


def _targets(found: list[Report]) -> dict:
    """The reported things, one query per kind among them."""
    from chat.models import Message
    from diary.models import Comment, Entry
    from events.models import Event
    from photos.models import Photo

    models = {
        TargetKind.MESSAGE: Message.objects.select_related("author"),
        TargetKind.ENTRY: Entry.objects.all(),
        TargetKind.COMMENT: Comment.objects.select_related("entry"),
        TargetKind.PHOTO: Photo.objects.all(),
        TargetKind.EVENT: Event.objects.all(),
        TargetKind.MEMBER: Member.objects.all(),
    }
    wanted: dict[str, set[int]] = {}
    for each in found:
        wanted.setdefault(each.target_kind, set()).add(each.target_id)
    return {
        kind: models[kind].in_bulk(sorted(ids))
        for kind, ids in wanted.items()
        if kind in models
    }


def _items(found) -> list[_Item]:
    found = list(found)
    targets = _targets(found)
    return [
        _Item(
            each,
            targets.get(each.target_kind, {}).get(each.target_id),
            each.target_kind,
        )
        for each in found
    ]


def _queue(member) -> list[_Item]:
    return _items(
        reports.open_reports(member)
        .select_related("reporter", "target_member", "community", "topic")
        .order_by("-pk")[:QUEUE_SIZE]
    )


def _refuse_queue(request):
    return refusal(request, _("Only the owner and moderators can see reports."), 403)


def badge_labels(count: int) -> list[tuple[str, str]]:
    """The nav link's accessible name in every language (one fragment serves
    every tab, as presence.notifications.badge_labels does)."""
    from django.conf import settings

    labels = []
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            if count:
                label = ngettext(
                    "Reports, %(count)d open", "Reports, %(count)d open", count
                ) % {"count": count}
            else:
                label = _("Reports")
        labels.append((code, label))
    return labels


def nav_state(member) -> tuple[bool, int]:
    """Whether `member` handles reports, and their open count: one query."""
    if not member.is_authenticated:
        return False, 0
    if member.is_staff:
        return True, reports.open_count(member)
    moderates = Exists(reports.moderated_communities(member))
    open_count = Subquery(
        reports.open_reports(member)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    row = (
        Member.objects.filter(pk=member.pk)
        .annotate(moderates=moderates, open=Coalesce(open_count, Value(0)))
        .values_list("moderates", "open")
        .first()
    )
    return (bool(row[0]), row[1]) if row else (False, 0)


def badge_context(count: int) -> dict:
    return {"open_reports": count, "report_labels": badge_labels(count)}


@require_GET
def report_queue(request):
    """The queue. With HX-Request: its list (`#queue`, refetched on each live
    notice), or with ?badge=1 the nav's count."""
    handles, count = nav_state(request.user)
    if not handles:
        return _refuse_queue(request)
    if request.htmx and request.GET.get("badge"):
        return TemplateResponse(
            request, "moderation/_report_badge.html", badge_context(count)
        )
    template = "moderation/report_queue.html"
    if request.htmx:
        template += "#queue"
    return TemplateResponse(
        request, template, {"items": _queue(request.user), "open_count": count}
    )


@require_POST
def report_resolve(request, report_id):
    """Resolve one report (and every open one of the same thing): POST
    outcome=dismissed|deleted|muted|banned."""
    found = reports.access_report(request.user, report_id)
    outcome = request.POST.get("outcome", "")
    try:
        reports.resolve(request.user, found, outcome)
    except NotAllowed as exc:
        return refused(request, exc)
    if request.htmx:
        return TemplateResponse(
            request,
            "moderation/report_queue.html#queue",
            {"items": _queue(request.user)},
        )
    flash.success(request, _("The report was resolved."))
    return redirect("moderation:reports")


@require_GET
def topic_panel(request, topic_id):
    """The topic page's moderator panel: the latest open reports about this
    topic's messages. 404 for who may not read the topic, 403 for a member
    who does not moderate its community."""
    topic, _membership = access_topic(request.user, topic_id)
    try:
        require_can_moderate(request.user, topic.community)
    except Forbidden as exc:
        return refusal(request, str(exc), exc.status)
    found = (
        Report.objects.filter(
            status=Report.Status.OPEN, topic=topic, target_kind=TargetKind.MESSAGE
        )
        .select_related("reporter", "target_member", "community", "topic")
        .order_by("-pk")[:PANEL_SIZE]
    )
    return TemplateResponse(
        request,
        "moderation/_topic_panel.html",
        {"topic": topic, "items": _items(found)},
    )
