"""The filters page (a community's word list, its link wait and the messages
held for review) and approving or rejecting a held message. A community the
viewer may not know of is "not found"; one they may see but not moderate is
a 403 with the reason (project/refusals.py)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from communities.access import NotAllowed, access_community
from moderation import filters, held
from moderation.access import require_can_moderate
from moderation.models import WordFilter
from project.input import int_param
from project.refusals import refusal


def _add(request, community):
    filters.add_filter(
        actor=request.user,
        community=community,
        pattern=request.POST.get("pattern", ""),
        action=request.POST.get("action", ""),
    )
    return _("Added to the list.")


def _remove(request, community):
    filters.remove_filter(
        actor=request.user,
        community=community,
        filter_id=int_param(request.POST, "filter") or 0,
    )
    return _("Removed from the list.")


def _link_wait(request, community):
    hours = request.POST.get("link_wait_hours", "").strip()
    if not hours.isdigit():
        raise NotAllowed(_("Write a number of hours (0: no wait)."))
    filters.set_link_wait(actor=request.user, community=community, hours=int(hours))
    return _("Saved.")


# What the page's forms ask for (their button's "do"): each answers its
# success message or raises NotAllowed with the reason.
DOINGS = {"add": _add, "remove": _remove, "link_wait": _link_wait}


def filters_page(request, community_id):
    community, _membership = access_community(request.user, community_id)
    try:
        require_can_moderate(request.user, community)
    except NotAllowed as exc:
        return refusal(request, str(exc), exc.status)
    if request.method == "POST":
        doing = DOINGS.get(request.POST.get("do", ""))
        try:
            if doing is None:
                raise NotAllowed(_("Choose what to do."))
            done = doing(request, community)
        except NotAllowed as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, done)
        return redirect("moderation:filters", community_id=community.pk)
    return TemplateResponse(
        request,
        "moderation/filters.html",
        {
            "community": community,
            "word_filters": WordFilter.objects.filter(community=community).order_by(
                "pattern"
            ),
            "actions": WordFilter.Action.choices,
            "held_messages": held.held_in(community),
        },
    )


def _held_post(request, held_id, act, done: str):
    try:
        message = held.access_held(request.user, held_id)
    except NotAllowed as exc:
        return refusal(request, str(exc), exc.status)
    try:
        act(actor=request.user, held=message)
    except NotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("moderation:filters", community_id=message.topic.community_id)


@require_POST
def held_approve(request, held_id):
    return _held_post(request, held_id, held.approve_held, _("Approved and posted."))


@require_POST
def held_reject(request, held_id):
    return _held_post(request, held_id, held.reject_held, _("Rejected."))
