import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, Value, When
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.images import ImageRejected
from accounts.models import Block, Friendship
from communities import access, actions, selectors
from communities.forms import CommunityEditForm, CommunityForm, DirectoryForm, TopicForm
from communities.models import Community, Membership, Topic

# A wrong-way arrow (docs/architecture.md): the community's page lists its
# next events, which the events app reads for it (its visibility rule).
from events import access as event_access
from events import selectors as event_selectors
from project.input import local_path
from project.refusals import refused

PAGE_SIZE = 20
# The member list shows the owner first, then moderators, then members.
ROLE_ORDER = Case(
    When(role=Membership.Role.OWNER, then=Value(0)),
    When(role=Membership.Role.MODERATOR, then=Value(1)),
    default=Value(2),
)


def directory(request):
    form = DirectoryForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    communities = selectors.search_communities(
        request.user,
        q=filters.get("q", ""),
        category=filters.get("category", ""),
        sort=filters.get("sort") or "activity",
    )
    page = Paginator(communities, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "communities/directory.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return TemplateResponse(
        request,
        template,
        {"form": form, "page": page, "query": request.GET.urlencode()},
    )


def my_communities(request):
    communities = Community.objects.joined_by(request.user).order_by(
        "-last_activity_at"
    )
    invited = Community.objects.filter(
        memberships__member=request.user, memberships__status=Membership.Status.INVITED
    )
    page = Paginator(communities, PAGE_SIZE).get_page(request.GET.get("page"))
    return TemplateResponse(
        request, "communities/mine.html", {"page": page, "invited": invited}
    )


def community_create(request):
    form = CommunityForm(request.POST or None, request.FILES or None)
    return _community_form(
        request,
        form,
        None,
        lambda data: actions.create_community(owner=request.user, **data),
    )


def community_edit(request, community_id):
    community, membership = access.access_community(request.user, community_id)
    try:
        access.require_owner(membership)
    except access.NotAllowed:
        raise Http404 from None
    initial = {
        field: getattr(community, field)
        for field in (
            "name",
            "description",
            "category",
            "join_policy",
            "topic_policy",
            "event_policy",
        )
    }
    form = CommunityEditForm(
        request.POST or None, request.FILES or None, initial=initial
    )

    def save(data):
        actions.update_community(community=community, **data)
        messages.success(request, _("The community was saved."))
        return community

    return _community_form(request, form, community, save)


def _community_form(request, form, community, save):
    """The create and edit page: on a valid POST, `save(cleaned_data)` and go
    to the community; refusals become form errors."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form.cleaned_data)
        except ImageRejected as exc:
            form.add_error("icon", str(exc))
        except access.NotAllowed as exc:
            form.add_error("name", str(exc))
        else:
            return redirect(saved)
    return TemplateResponse(
        request,
        "communities/community_form.html",
        {"form": form, "community": community},
    )


def community_detail(request, community_id):
    community, membership = access.access_community(request.user, community_id)
    return community_page(request, community, membership)


def community_page(request, community, membership, *, topic_url=None):
    """The community's page. With `topic_url` it answers a link to one of its
    topics that the member may not read yet (chat.access.community_to_join):
    the way in, and joining comes back to the topic."""
    topics = events = None
    if membership is not None and membership.is_active:
        events = event_selectors.next_events_of(request.user, community)
        topics = (
            Topic.objects.in_community(community)
            .with_unread_for(request.user)
            .order_by("-last_message_at", "-pk")
        )
        topics = Paginator(topics, PAGE_SIZE).get_page(request.GET.get("page"))
    pending_count = 0
    if membership is not None and membership.is_moderator:
        pending_count = community.memberships.filter(
            status=Membership.Status.PENDING
        ).count()
    return TemplateResponse(
        request,
        "communities/community_detail.html",
        {
            "community": community,
            "membership": membership,
            "topics": topics,
            "can_start_topic": access.can_start_topic(community, membership),
            "events": events,
            "can_create_event": event_access.can_create_event(
                request.user, community, membership
            ),
            "pending_count": pending_count,
            "topic_url": topic_url,
        },
    )


def community_icon(request, community_id):
    """Icons are served through this view: a secret community's icon only to
    those who may know the community exists."""
    community, _membership = access.access_community(request.user, community_id)
    if not community.icon:
        raise Http404
    response = FileResponse(community.icon.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


def member_list(request, community_id):
    community, membership = access.access_community(request.user, community_id)
    if membership is None or not membership.is_active:
        raise Http404
    # A block hides both members from each other in member lists too.
    hidden = Block.objects.hidden_ids_for(request.user)
    members = (
        community.memberships.filter(status=Membership.Status.ACTIVE)
        .exclude(member__in=hidden)
        .select_related("member")
        .order_by(ROLE_ORDER, "member__nickname_key")
    )
    page = Paginator(members, 50).get_page(request.GET.get("page"))
    pending = None
    if membership.is_moderator:
        pending = (
            community.memberships.filter(status=Membership.Status.PENDING)
            .exclude(member__in=hidden)
            .select_related("member")
        )
    invitable = None
    if access.can_invite(community, membership):
        invitable = (
            Friendship.objects.of(request.user)
            .exclude(
                friend__in=community.memberships.exclude(
                    status=Membership.Status.LEFT
                ).values("member")
            )
            .exclude(friend__in=hidden)
            .select_related("friend")
            .order_by("friend__nickname_key")
        )
    return TemplateResponse(
        request,
        "communities/member_list.html",
        {
            "community": community,
            "membership": membership,
            "page": page,
            "pending": pending,
            "invitable": invitable,
        },
    )


def _act(request, community_id, do, *, back_to="detail", next_url=""):
    """Run a membership action from a POST and come back with its outcome:
    to `next_url` after a success when it is a page of this site."""
    community, membership = access.access_community(request.user, community_id)
    try:
        message = do(community, membership)
    except access.NotAllowed as exc:
        if request.htmx:
            return refused(request, exc)
        messages.error(request, str(exc))
    else:
        messages.success(request, message)
        if next_path := local_path(request, next_url):
            return redirect(next_path)
        if (
            community.is_secret
            and not community.memberships.filter(
                member=request.user, status=Membership.Status.ACTIVE
            ).exists()
        ):
            # A secret community they are not in is invisible to them now.
            return redirect("communities:mine")
    return redirect(f"communities:{back_to}", community_id=community.pk)


@require_POST
def community_join(request, community_id):
    def do(community, membership):
        membership = actions.join_community(member=request.user, community=community)
        if membership.status == Membership.Status.PENDING:
            return _("Your request to join was sent to the moderators.")
        return _("Welcome to %(name)s!") % {"name": community.name}

    # From a link to one of its topics, joining comes back to the topic.
    return _act(request, community_id, do, next_url=request.POST.get("next", ""))


@require_POST
def community_leave(request, community_id):
    def do(community, membership):
        actions.leave_community(member=request.user, community=community)
        return _("You left %(name)s.") % {"name": community.name}

    return _act(request, community_id, do)


@require_POST
def request_decide(request, community_id, member_id):
    def do(community, membership):
        access.require_moderator(membership)
        accept = request.POST.get("decision") == "accept"
        actions.decide_request(community=community, member_id=member_id, accept=accept)
        return _("Request accepted.") if accept else _("Request declined.")

    return _act(request, community_id, do, back_to="members")


@require_POST
def member_invite(request, community_id):
    def do(community, membership):
        access.require_can_invite(community, membership)
        try:
            friend_id = int(request.POST.get("friend", ""))
        except ValueError:
            raise access.NotAllowed(_("Choose a friend to invite.")) from None
        invited = actions.invite_friend(
            inviter=request.user, community=community, friend_id=friend_id
        )
        return _("%(nickname)s was invited.") % {"nickname": invited.member.nickname}

    return _act(request, community_id, do, back_to="members")


@require_POST
def member_role(request, community_id, member_id):
    def do(community, membership):
        access.require_owner(membership)
        actions.set_role(
            community=community, member_id=member_id, role=request.POST.get("role", "")
        )
        return _("The role was changed.")

    return _act(request, community_id, do, back_to="members")


def topic_create(request, community_id):
    community, membership = access.access_community(request.user, community_id)
    if not access.can_start_topic(community, membership):
        raise Http404
    form = TopicForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            topic = actions.start_topic(
                author=request.user,
                community=community,
                membership=membership,
                **form.cleaned_data,
            )
        except access.NotAllowed as exc:
            form.add_error(None, str(exc))
        else:
            return redirect(topic)
    return TemplateResponse(
        request,
        "communities/topic_form.html",
        {"form": form, "community": community, "client_id": uuid.uuid4().hex},
    )
