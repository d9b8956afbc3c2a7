from accounts import friends


def navigation(request):
    """What the navigation bar needs on every page: the member, and the count
    of friend requests waiting for them (one query; the badge is kept current
    live by accounts.friends.push_request_badge)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_member": user,
        "pending_friend_requests": friends.pending_received_count(user),
    }
