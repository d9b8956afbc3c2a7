from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import access, actions
from accounts.forms import InvitationForm, JoinForm, ProfileForm
from accounts.images import ImageRejected
from accounts.models import Friendship, Invitation

BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def home(request):
    friends = (
        Friendship.objects.of(request.user)
        .select_related("friend")
        .order_by("-created_at")[:12]
    )
    return TemplateResponse(request, "accounts/home.html", {"friends": friends})


def member_detail(request, nickname):
    member = access.access_member(request.user, nickname)
    friend_count = Friendship.objects.of(member).count()
    is_friend = (
        member.pk != request.user.pk
        and Friendship.objects.filter(member=request.user, friend=member).exists()
    )
    return TemplateResponse(
        request,
        "accounts/member_detail.html",
        {"member": member, "friend_count": friend_count, "is_friend": is_friend},
    )


def member_avatar(request, nickname):
    """Avatars are served through this view, never as public media."""
    member = access.access_member(request.user, nickname)
    if not member.avatar:
        raise Http404
    response = FileResponse(member.avatar.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def friend_list(request):
    friendships = Friendship.objects.of(request.user).select_related("friend")
    page = Paginator(friendships.order_by("friend__nickname_key"), 50).get_page(
        request.GET.get("page")
    )
    return TemplateResponse(request, "accounts/friend_list.html", {"page": page})


def profile_edit(request):
    member = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                actions.update_profile(
                    member=member,
                    introduction=form.cleaned_data["introduction"],
                    avatar=form.cleaned_data["avatar"],
                    remove_avatar=form.cleaned_data["remove_avatar"],
                )
            except ImageRejected as exc:
                form.add_error("avatar", str(exc))
            else:
                messages.success(request, _("Your profile was saved."))
                return redirect(member.get_absolute_url())
    else:
        form = ProfileForm(initial={"introduction": member.introduction})
    return TemplateResponse(request, "accounts/profile_edit.html", {"form": form})


def invitation_list(request):
    new_link = None
    form = InvitationForm()
    if request.method == "POST":
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                _invitation, token = actions.create_invitation(
                    inviter=request.user, note=form.cleaned_data["note"]
                )
            except actions.ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                new_link = request.build_absolute_uri(f"/join/{token}/")
                form = InvitationForm()
    invitations = Invitation.objects.created_by(request.user).select_related("used_by")
    page = Paginator(invitations, 20).get_page(request.GET.get("page"))
    return TemplateResponse(
        request,
        "accounts/invitation_list.html",
        {
            "form": form,
            "page": page,
            "new_link": new_link,
            "max_open": settings.INVITATION_MAX_OPEN,
            "valid_days": settings.INVITATION_VALID_DAYS,
        },
    )


@require_POST
def invitation_revoke(request, invitation_id):
    try:
        actions.revoke_invitation(member=request.user, invitation_id=invitation_id)
    except actions.ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("The invitation was revoked; its link no longer works.")
        )
    return redirect("accounts:invitation-list")


@login_not_required
def join(request, token=None):
    """Join with an invitation (/join/<token>/), or openly when the site allows."""
    if request.user.is_authenticated:
        return redirect("home")
    invitation = None
    if token is None:
        if not settings.OPEN_REGISTRATION:
            return _invitation_invalid(
                request,
                actions.InvitationInvalid(
                    _("Enishi is invitation-only. Ask a member for a link."), gone=False
                ),
            )
    else:
        try:
            invitation = actions.find_open_invitation(token)
        except actions.InvitationInvalid as exc:
            return _invitation_invalid(request, exc)
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            if token is None:
                member = actions.register_member(
                    nickname=form.cleaned_data["nickname"],
                    password=form.cleaned_data["password1"],
                )
            else:
                member = actions.join_with_invitation(
                    token=token,
                    nickname=form.cleaned_data["nickname"],
                    password=form.cleaned_data["password1"],
                )
        except actions.InvitationInvalid as exc:
            return _invitation_invalid(request, exc)
        except actions.ActionRefused as exc:
            form.add_error("nickname", str(exc))
        except ValidationError as exc:
            form.add_error("password1", exc)
        else:
            login(request, member, backend=BACKEND)
            messages.success(
                request,
                _("Welcome to Enishi, %(nickname)s!") % {"nickname": member.nickname},
            )
            return redirect("home")
    return TemplateResponse(
        request,
        "accounts/join.html",
        {"form": form, "invitation": invitation},
    )


def _invitation_invalid(request, exc):
    return TemplateResponse(
        request,
        "accounts/join_invalid.html",
        {"reason": str(exc)},
        status=410 if exc.gone else 404,
    )


@login_not_required
def password_reset_unavailable(request):
    return TemplateResponse(request, "accounts/password_reset_unavailable.html")
