"""Pages for acting on members and roles (moderation/members.py) and the
community's logs. A community the viewer may not know of is "not found"
(communities.access.access_community); one they may see but not act in is a
403 with the reason (project/refusals.py)."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import Member
from communities.access import (
    Forbidden,
    NotAllowed,
    access_community,
    require_active,
    require_owner,
)
from communities.models import Membership
from moderation import members
from moderation.access import require_can_act_on, require_can_moderate
from moderation.models import ModerationAction, Rule
from project.input import local_path
from project.refusals import refusal

LOG_PAGE_SIZE = 50


class MuteForm(forms.Form):
    template = "moderation/mute_form.html"
    # Minutes; "lifted" for a mute until a moderator lifts it.
    UNTIL_LIFTED = "lifted"
    DURATIONS = [
        ("10", gettext_lazy("10 minutes")),
        ("60", gettext_lazy("1 hour")),
        ("1440", gettext_lazy("1 day")),
        ("10080", gettext_lazy("7 days")),
        (UNTIL_LIFTED, gettext_lazy("Until lifted")),
    ]

    duration = forms.ChoiceField(
        label=gettext_lazy("Duration"), choices=DURATIONS, initial="60"
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=members.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("The member sees this at their composer."),
    )
    rule = forms.ChoiceField(
        label=gettext_lazy("Rule"), choices=[("", "—"), *Rule.choices], required=False
    )

    def act(self, actor, community, target) -> str:
        duration = self.cleaned_data["duration"]
        members.mute_member(
            actor,
            community,
            target,
            minutes=None if duration == self.UNTIL_LIFTED else int(duration),
            reason=self.cleaned_data["reason"],
            rule=self.cleaned_data["rule"],
        )
        return _("%(nickname)s is muted.") % {"nickname": target.nickname}


class BanForm(forms.Form):
    template = "moderation/ban_confirm.html"

    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=members.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    rule = MuteForm.base_fields["rule"]

    def act(self, actor, community, target) -> str:
        members.ban_member(
            actor,
            community,
            target,
            reason=self.cleaned_data["reason"],
            rule=self.cleaned_data["rule"],
        )
        return _("%(nickname)s is banned.") % {"nickname": target.nickname}


def _back(request, community):
    """Where a form goes after it is done: its `next` when that is a page of
    this site (the topic the menu was opened on), else the members list."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    return redirect(
        local_path(request, next_url)
        or reverse("communities:members", kwargs={"community_id": community.pk})
    )


def _target(request, community_id, member_id):
    """The community (404 if the viewer may not know of it) and the member
    acted on (404 for no such member)."""
    community, _membership = access_community(request.user, community_id)
    return community, get_object_or_404(Member, pk=member_id)


def _member_form(request, community_id, member_id, form_class):
    """A page with a form about one member (mute, ban): 403 before the form
    for who may not act on them; on a valid POST, the form's act and back
    to where the menu was opened."""
    community, target = _target(request, community_id, member_id)
    try:
        require_can_act_on(request.user, community, target)
    except Forbidden as exc:
        return refusal(request, str(exc), exc.status)
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            done = form.act(request.user, community, target)
        except Forbidden as exc:
            return refusal(request, str(exc), exc.status)
        except NotAllowed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, done)
            return _back(request, community)
    return TemplateResponse(
        request,
        form_class.template,
        {
            "community": community,
            "target": target,
            "form": form,
            "target_membership": Membership.objects.filter(
                community=community, member=target
            ).first(),
            "next": request.POST.get("next") or request.GET.get("next", ""),
        },
    )


def member_mute(request, community_id, member_id):
    return _member_form(request, community_id, member_id, MuteForm)


def member_ban(request, community_id, member_id):
    return _member_form(request, community_id, member_id, BanForm)


def _member_post(request, community_id, member_id, act, done):
    """A POST about one member with no form (unmute, unban): `act(actor,
    community, target)`, then `done` (with the target's nickname)."""
    community, target = _target(request, community_id, member_id)
    try:
        act(request.user, community, target)
    except Forbidden as exc:
        return refusal(request, str(exc), exc.status)
    except NotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done % {"nickname": target.nickname})
    return _back(request, community)


@require_POST
def member_unmute(request, community_id, member_id):
    done = gettext_lazy("%(nickname)s may post again.")
    return _member_post(request, community_id, member_id, members.unmute_member, done)


@require_POST
def member_unban(request, community_id, member_id):
    done = gettext_lazy("%(nickname)s is no longer banned.")
    return _member_post(request, community_id, member_id, members.unban_member, done)


# --- Roles --------------------------------------------------------------------

ROLE_ACTIONS = {
    "appoint": (
        members.appoint_moderator,
        gettext_lazy("%(nickname)s is a moderator now."),
    ),
    "remove": (
        members.remove_moderator,
        gettext_lazy("%(nickname)s is no longer a moderator."),
    ),
    "offer": (
        members.offer_ownership,
        gettext_lazy("%(nickname)s was offered the community."),
    ),
}


def moderators(request, community_id):
    """The owner's page: the moderators (remove), the members (appoint), and
    the members of 30 days' standing the community may be handed over to."""
    community, membership = access_community(request.user, community_id)
    try:
        require_owner(membership)
    except Forbidden as exc:
        return refusal(request, str(exc), exc.status)
    if request.method == "POST":
        action = ROLE_ACTIONS.get(request.POST.get("action", ""))
        target = Member.objects.filter(
            pk=_int_or_none(request.POST.get("member"))
        ).first()
        if action is None or target is None:
            messages.error(request, _("Choose a member and what to do."))
        else:
            do, done = action
            try:
                do(request.user, community, target)
            except NotAllowed as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, done % {"nickname": target.nickname})
        return redirect("moderation:moderators", community_id=community.pk)
    active = community.memberships.filter(
        status=Membership.Status.ACTIVE
    ).select_related("member")
    standing_since = timezone.now() - members.HANDOVER_STANDING
    return TemplateResponse(
        request,
        "moderation/moderators.html",
        {
            "community": community,
            "moderators": active.filter(role=Membership.Role.MODERATOR).order_by(
                "member__nickname_key"
            ),
            "plain": active.filter(role=Membership.Role.MEMBER).order_by(
                "member__nickname_key"
            ),
            "eligible": active.exclude(role=Membership.Role.OWNER)
            .filter(created_at__lte=standing_since)
            .order_by("member__nickname_key"),
            "offered_to": community.offered_to,
        },
    )


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def handover(request, community_id):
    """The offered member's page: accept or decline the community. Anyone
    else finds nothing here."""
    community, _membership = access_community(request.user, community_id)
    if community.offered_to_id != request.user.pk:
        raise Http404
    if request.method == "POST":
        accept = request.POST.get("decision") == "accept"
        try:
            if accept:
                members.accept_ownership(request.user, community)
            else:
                members.decline_ownership(request.user, community)
        except NotAllowed as exc:
            messages.error(request, str(exc))
            return redirect("moderation:handover", community_id=community.pk)
        if accept:
            messages.success(
                request, _("You own %(name)s now.") % {"name": community.name}
            )
        else:
            messages.success(request, _("You declined the offer."))
        return redirect(community)
    return TemplateResponse(
        request,
        "moderation/handover.html",
        {"community": community, "old_owner": community.owner},
    )


# --- Logs ---------------------------------------------------------------------


def _log_page(request, rows):
    return Paginator(rows, LOG_PAGE_SIZE).get_page(request.GET.get("page"))


def audit_log(request, community_id):
    """Everything moderators did in the community, newest first, with who did
    it: for its moderators and staff."""
    community, _membership = access_community(request.user, community_id)
    try:
        require_can_moderate(request.user, community)
    except Forbidden as exc:
        return refusal(request, str(exc), exc.status)
    rows = (
        ModerationAction.objects.filter(community=community)
        .select_related("actor", "member", "topic")
        .order_by("-id")
    )
    return TemplateResponse(
        request,
        "moderation/audit_log.html",
        {"community": community, "page": _log_page(request, rows)},
    )


def public_log(request, community_id):
    """The removals (what rule, when), for the community's members: never
    who removed it."""
    community, membership = access_community(request.user, community_id)
    if not request.user.is_staff:
        try:
            require_active(membership)
        except Forbidden as exc:
            return refusal(request, str(exc), exc.status)
    rows = (
        ModerationAction.objects.filter(community=community, public=True)
        .only("kind", "rule", "target_kind", "created_at")
        .order_by("-id")
    )
    return TemplateResponse(
        request,
        "moderation/public_log.html",
        {"community": community, "page": _log_page(request, rows)},
    )
