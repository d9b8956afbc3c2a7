from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from accounts import friends
from accounts.models import Friendship
from chat.access import unread_topics_of
from diary import selectors as diary_selectors
from project.refusals import is_htmx, refusal

# The home page gathers from every app (what spans apps lives in project/).
HOME_TOPICS_SHOWN = 10
HOME_REQUESTS_SHOWN = 10


def csrf_failure(request, reason=""):
    """A form that went stale (its session changed, or its page is old): say so
    plainly; htmx forms show it at the form and keep what was typed."""
    message = _("This page is out of date. Reload it and try again; nothing was saved.")
    if is_htmx(request):
        return refusal(request, message, 403)
    return TemplateResponse(request, "403_csrf.html", {"message": message}, status=403)


def home(request):
    """The member's hub: friends' (and friends of friends') diary entries,
    keyset-paginated (`?before=<cursor>`), topics of their communities with
    unread messages, and friend requests waiting for them. A constant number
    of queries, however many rows each has."""
    member = request.user
    before = diary_selectors.decode_cursor(request.GET.get("before"))
    entries, older_cursor = diary_selectors.home_feed(member, before=before)
    friend_rows = (
        Friendship.objects.of(member).select_related("friend").order_by("-created_at")
    )
    return TemplateResponse(
        request,
        "accounts/home.html",
        {
            "friends": friend_rows[:12],
            "entries": entries,
            "older_cursor": older_cursor,
            "paged": before is not None,
            "unread_topics": unread_topics_of(member, HOME_TOPICS_SHOWN),
            "requests": list(friends.pending_received(member)[:HOME_REQUESTS_SHOWN]),
        },
    )
