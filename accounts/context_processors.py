import functools

from accounts import friends


def navigation(request):
    """What the navigation bar needs on every page: the member, and the count
    of friend requests waiting for them (the badge; kept current live by
    accounts.friends.push_request_badge).

    The count is a callable, which templates call when they first show it:
    one query for a page that shows it, none for an htmx fragment that does
    not (a message sent in a topic, a catch-up)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_member": user,
        "pending_friend_requests": functools.cache(
            lambda: friends.pending_received_count(user)
        ),
    }
