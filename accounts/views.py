from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import access, actions, friends
from accounts.audience import can_see
from accounts.forms import (
    FriendRequestForm,
    InvitationForm,
    JoinForm,
    MemberSearchForm,
    ProfileForm,
)
from accounts.images import ImageRejected
from accounts.models import Block, Friendship, Invitation
from project.refusals import refused

BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def member_detail(request, nickname):
    from presence import footprints

    member = access.access_member(request.user, nickname)
    # After the access check: only a member who may see the page leaves one.
    left_footprint = footprints.record_visit(owner=member, visitor=request.user)
    response = _member_page(request, member)
    response.context_data["left_footprint"] = left_footprint
    return response


def _member_page(request, member, request_form=None, status=200):
    """A member's page as the viewer may see it: the self-introduction and
    the friend list by their audiences, what the two are to each other (the
    buttons), and their friends in common, in a bounded number of queries."""
    viewer = request.user
    is_self = member.pk == viewer.pk
    is_friend = not is_self and friends.is_friend(viewer, member)
    # One can_see per distinct audience (the two are often the same).
    sees = {
        audience: can_see(viewer, member, audience)
        for audience in {member.introduction_audience, member.friends_audience}
    }
    context = {
        "member": member,
        "friend_count": friends.friend_count(member),
        "is_friend": is_friend,
        "show_introduction": sees[member.introduction_audience],
        "show_friends": sees[member.friends_audience],
    }
    # Their latest diary entries the viewer may see (diary/selectors.py).
    from diary.selectors import latest_entries

    context["entries"] = latest_entries(member, viewer)
    # Friends in common are part of the member's friend list: shown only to
    # whom its audience shows the list.
    if not is_self and context["show_friends"]:
        common = friends.in_common(viewer, member)
        context["in_common"] = list(common[: friends.IN_COMMON_SHOWN])
        context["in_common_count"] = (
            len(context["in_common"])
            if len(context["in_common"]) < friends.IN_COMMON_SHOWN
            else common.count()
        )
    if not is_self and not is_friend:
        context["received_request"] = friends.received_from(viewer, member)
        context["sent_request"] = (
            None if context["received_request"] else friends.sent_to(viewer, member)
        )
        context["request_form"] = request_form or FriendRequestForm()
    return TemplateResponse(
        request, "accounts/member_detail.html", context, status=status
    )


@require_POST
def friend_request_send(request, nickname):
    member = access.access_member(request.user, nickname)
    form = FriendRequestForm(request.POST)
    if not form.is_valid():
        return _member_page(request, member, request_form=form)
    try:
        actions.send_friend_request(
            sender=request.user,
            recipient=member,
            message=form.cleaned_data["message"],
        )
    except actions.MemberNotFound as exc:
        raise Http404 from exc
    except actions.ActionRefused as exc:
        if request.htmx:
            return refused(request, exc)
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Your friend request was sent to %(nickname)s.")
            % {"nickname": member.nickname},
        )
    return redirect(member.get_absolute_url())


def _back(request, default):
    """Where a request's buttons came from (its `next`), if it is ours."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect(default)


@require_POST
def friend_request_accept(request, request_id):
    try:
        friend_request = actions.accept_friend_request(
            member=request.user, request_id=request_id
        )
    except actions.ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("You and %(nickname)s are now friends.")
            % {"nickname": friend_request.from_member.nickname},
        )
    return _back(request, "accounts:friend-requests")


@require_POST
def friend_request_decline(request, request_id):
    try:
        actions.decline_friend_request(member=request.user, request_id=request_id)
    except actions.ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Declined. The member who asked is not told."))
    return _back(request, "accounts:friend-requests")


@require_POST
def friend_request_cancel(request, request_id):
    try:
        actions.cancel_friend_request(member=request.user, request_id=request_id)
    except actions.ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Your friend request was withdrawn."))
    return _back(request, "accounts:friend-requests")


def friend_requests(request):
    """Requests waiting for my answer, and those I sent that are pending."""
    received = Paginator(friends.pending_received(request.user), 20).get_page(
        request.GET.get("page")
    )
    sent = Paginator(friends.pending_sent(request.user), 20).get_page(
        request.GET.get("sent")
    )
    return TemplateResponse(
        request,
        "accounts/friend_requests.html",
        {"requests": received.object_list, "page": received, "sent_page": sent},
    )


def unfriend(request, nickname):
    """GET: are you sure? POST: end the friendship. Works without script."""
    member = access.access_member(request.user, nickname)
    if request.method == "POST":
        # The action checks the friendship under both members' row locks: a
        # second tab that unfriended first is told so, not answered 500.
        try:
            actions.unfriend(member=request.user, friend=member)
        except actions.ActionRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("You and %(nickname)s are no longer friends.")
                % {"nickname": member.nickname},
            )
        return redirect(member.get_absolute_url())
    if not friends.is_friend(request.user, member):
        messages.error(
            request,
            _("You and %(nickname)s are not friends.") % {"nickname": member.nickname},
        )
        return redirect(member.get_absolute_url())
    return TemplateResponse(
        request, "accounts/unfriend_confirm.html", {"member": member}
    )


def block(request, nickname):
    """GET: are you sure? POST: block. A blocked member's page answers 404,
    so the blocker goes on to their list of blocked members."""
    member = access.access_member(request.user, nickname)
    if member.pk == request.user.pk:
        messages.error(request, _("You cannot block yourself."))
        return redirect(member.get_absolute_url())
    if request.method == "POST":
        actions.block_member(member=request.user, other=member)
        messages.success(
            request,
            _(
                "You blocked %(nickname)s. You two no longer see each other "
                "anywhere on Enishi."
            )
            % {"nickname": member.nickname},
        )
        return redirect("accounts:block-list")
    return TemplateResponse(request, "accounts/block_confirm.html", {"member": member})


def block_list(request):
    """The members I blocked: only mine (who blocked me is never shown)."""
    blocks = (
        Block.objects.filter(blocker=request.user)
        .select_related("blocked")
        .order_by("-created_at")
    )
    page = Paginator(blocks, 50).get_page(request.GET.get("page"))
    return TemplateResponse(request, "accounts/block_list.html", {"page": page})


@require_POST
def unblock(request, member_id):
    try:
        actions.unblock_member(member=request.user, other_id=member_id)
    except actions.ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Unblocked."))
    return redirect("accounts:block-list")


def member_friends(request, nickname):
    """A member's friend list, when its audience lets the viewer see it
    (404 otherwise, as for a page that does not exist)."""
    member = access.access_member(request.user, nickname)
    if not can_see(request.user, member, member.friends_audience):
        raise Http404
    page = Paginator(
        friends.friends_of(member, request.user), friends.FRIENDS_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return TemplateResponse(
        request, "accounts/member_friends.html", {"member": member, "page": page}
    )


def member_search(request):
    """Members by the start of their nickname, 20 to a page."""
    form = MemberSearchForm(request.GET)
    query = ""
    page = None
    if form.is_valid():
        query = form.cleaned_data["q"]
        if query:
            page = Paginator(
                friends.search(request.user, query), friends.SEARCH_PAGE_SIZE
            ).get_page(request.GET.get("page"))
    return TemplateResponse(
        request,
        "accounts/member_search.html",
        {"form": form, "q": query, "page": page},
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
    # A block ends a friendship (actions.block_member); one made some other
    # way (the admin) still hides the friend.
    friendships = (
        Friendship.objects.of(request.user)
        .exclude(friend__in=Block.objects.hidden_ids_for(request.user))
        .select_related("friend")
    )
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
                    shows_presence=form.cleaned_data["shows_presence"],
                    leaves_footprints=form.cleaned_data["leaves_footprints"],
                    time_zone=form.cleaned_data["time_zone"],
                    **{
                        field: form.cleaned_data[field]
                        for field in actions.AUDIENCE_FIELDS
                    },
                )
            except ImageRejected as exc:
                form.add_error("avatar", str(exc))
            else:
                messages.success(request, _("Your profile was saved."))
                return redirect(member.get_absolute_url())
    else:
        form = ProfileForm(
            initial={
                "introduction": member.introduction,
                "shows_presence": member.shows_presence,
                "leaves_footprints": member.leaves_footprints,
                "time_zone": member.time_zone,
                **{field: getattr(member, field) for field in actions.AUDIENCE_FIELDS},
            }
        )
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
