"""Every URL the project answers is one the product means to have.

The walk goes through Django's resolver (includes, namespaces, the admin's
generated routes), not a hand list, so a route that arrives with a library's
include() or a new admin registration shows up here by name. To add a route on
purpose, add it to the allow-list below in the same commit.
"""

import re
from collections import Counter

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.staticfiles import finders
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import Member
from tests.conftest import PASSWORD


def admin_model(app_label: str, model: str) -> dict[str, str | None]:
    """The routes Django's admin generates for one registered model."""
    prefix = f"admin/{app_label}/{model}/"
    name = f"admin:{app_label}_{model}"
    return {
        prefix: f"{name}_changelist",
        f"{prefix}add/": f"{name}_add",
        f"{prefix}<object_id>/history/": f"{name}_history",
        f"{prefix}<object_id>/delete/": f"{name}_delete",
        f"{prefix}<object_id>/change/": f"{name}_change",
        # Old-style links to an object: redirects to its change page.
        f"{prefix}<object_id>/": None,
    }


# Route (as the resolver spells it, includes joined) -> URL name.
ALLOWED: dict[str, str | None] = {
    "": "home",
    "i18n/setlang/": "set_language",
    "favicon.ico": "favicon",
    # Members and invitations.
    "join/": "accounts:join-open",
    "join/<token>/": "accounts:join",
    "friends/": "accounts:friend-list",
    "invitations/": "accounts:invitation-list",
    "invitations/<invitation_id>/revoke/": "accounts:invitation-revoke",
    "settings/profile/": "accounts:profile-edit",
    "members/<nickname>/": "accounts:member-detail",
    "members/<nickname>/avatar/": "accounts:member-avatar",
    # Friends, friend requests, blocks and member search.
    "members/search/": "accounts:member-search",
    "members/<nickname>/friends/": "accounts:member-friends",
    "members/<nickname>/friend-request/": "accounts:friend-request-send",
    "members/<nickname>/unfriend/": "accounts:unfriend",
    "members/<nickname>/block/": "accounts:block",
    "friends/requests/": "accounts:friend-requests",
    "friends/requests/<request_id>/accept/": "accounts:friend-request-accept",
    "friends/requests/<request_id>/decline/": "accounts:friend-request-decline",
    "friends/requests/<request_id>/cancel/": "accounts:friend-request-cancel",
    "settings/blocks/": "accounts:block-list",
    "settings/blocks/<member_id>/unblock/": "accounts:unblock",
    # The account views allauth serves: log in and out, change one's password,
    # and the page a deactivated member's correct password leads to.
    "accounts/login/": "account_login",
    "accounts/logout/": "account_logout",
    "accounts/inactive/": "account_inactive",
    "accounts/password/change/": "account_change_password",
    # Ours: no e-mail, so no reset link; no sign-up but by invitation.
    "accounts/password/reset/": "password-reset-unavailable",
    "accounts/signup/": None,
    # Communities, topics and messages.
    "communities/": "communities:directory",
    "communities/mine/": "communities:mine",
    "communities/new/": "communities:create",
    "communities/<community_id>/": "communities:detail",
    "communities/<community_id>/edit/": "communities:edit",
    "communities/<community_id>/icon/": "communities:icon",
    "communities/<community_id>/members/": "communities:members",
    "communities/<community_id>/join/": "communities:join",
    "communities/<community_id>/leave/": "communities:leave",
    "communities/<community_id>/invite/": "communities:invite",
    "communities/<community_id>/requests/<member_id>/": ("communities:request-decide"),
    "communities/<community_id>/members/<member_id>/role/": ("communities:member-role"),
    "communities/<community_id>/topics/new/": "communities:topic-create",
    "topics/<topic_id>/": "chat:topic-detail",
    "topics/<topic_id>/messages/": "chat:message-list",
    "topics/<topic_id>/send/": "chat:message-create",
    "topics/<topic_id>/read/": "chat:topic-read",
    "topics/<topic_id>/here/": "chat:topic-here",
    "messages/<message_id>/edit/": "chat:message-edit",
    "messages/<message_id>/delete/": "chat:message-delete",
    "messages/<message_id>/like/": "chat:message-like",
    # A message photo's bytes, to whoever may see the message now
    # (chat/photo_views.py, tests/chat/test_message_photos.py).
    "messages/photos/<photo_id>/<size>/": "chat:message-photo",
    "notifications/": "presence:notifications",
    # Footprints: one's own only (tests/presence/test_footprints.py).
    "footprints/": "footprints:list",
    "footprints/left-on/<nickname>/delete/": "footprints:erase",
    # Marking read, settings and topic mutes: tests/presence/test_notifications.py.
    "notifications/read/": "presence:notifications-read-all",
    "notifications/badge/": "presence:notification-badge",
    "notifications/<notification_id>/open/": "presence:notification-open",
    "notifications/<notification_id>/read/": "presence:notification-read",
    "notifications/settings/": "presence:notification-settings",
    "notifications/topics/<topic_id>/mute/": "presence:topic-mute",
    # Phones: the manifest, the service worker at the root (its scope), the
    # offline page, and one's own devices that receive Web Push
    # (tests/presence/test_push_views.py).
    "manifest.webmanifest": "push:manifest",
    "sw.js": "push:service-worker",
    "offline/": "push:offline",
    "settings/devices/": "push:devices",
    "settings/devices/subscribe/": "push:device-subscribe",
    "settings/devices/<subscription_id>/remove/": "push:device-remove",
    # Diaries: every view answers an entry the viewer may not see as a missing
    # id does (tests/diary/test_views.py).
    "diary/new/": "diary:entry-create",
    "diary/by/<nickname>/": "diary:member-entries",
    "diary/<entry_id>/": "diary:entry-detail",
    "diary/<entry_id>/edit/": "diary:entry-edit",
    "diary/<entry_id>/delete/": "diary:entry-delete",
    "diary/<entry_id>/like/": "diary:entry-like",
    "diary/<entry_id>/comments/": "diary:comment-create",
    "diary/comments/<comment_id>/delete/": "diary:comment-delete",
    # Albums and photos; a photo's bytes only through photos:photo-file, which
    # applies the audience (tests/photos/test_serving.py).
    "photos/by/<nickname>/": "photos:album-list",
    "photos/albums/new/": "photos:album-create",
    "photos/albums/<album_id>/": "photos:album-detail",
    "photos/albums/<album_id>/edit/": "photos:album-edit",
    "photos/albums/<album_id>/delete/": "photos:album-delete",
    "photos/albums/<album_id>/add/": "photos:photo-add",
    "photos/<photo_id>/": "photos:photo-detail",
    "photos/<photo_id>/edit/": "photos:photo-edit",
    "photos/<photo_id>/delete/": "photos:photo-delete",
    "photos/<photo_id>/<size>/": "photos:photo-file",
    # Events: seen by the community's active members not separated from the
    # organiser by a block, run by the organiser and the moderators
    # (tests/events/test_access.py); the calendar feed needs no login, only
    # its unguessable token (tests/events/test_calendar.py).
    "events/": "events:list",
    "events/new/<community_id>/": "events:create",
    "events/<event_id>/": "events:detail",
    "events/<event_id>/rsvp/": "events:rsvp",
    "events/<event_id>/attendees/": "events:attendees",
    "events/<event_id>/edit/": "events:edit",
    "events/<event_id>/cancel/": "events:cancel",
    "events/<event_id>/close/": "events:close",
    "events/<event_id>/message/": "events:message",
    "events/<event_id>/invite/": "events:invite",
    "events/<event_id>/attendees.csv": "events:attendees-csv",
    "events/<event_id>/calendar.ics": "events:ics",
    "events/feed/<token>.ics": "events:feed",
    "settings/calendar/": "events:calendar-settings",
    # Moderation: who may act on whom is moderation/access.py; each route's
    # access is tested with its part (tests/moderation/).
    "communities/<community_id>/members/<member_id>/mute/": "moderation:mute",
    "communities/<community_id>/members/<member_id>/unmute/": "moderation:unmute",
    "communities/<community_id>/members/<member_id>/ban/": "moderation:ban",
    "communities/<community_id>/members/<member_id>/unban/": "moderation:unban",
    "communities/<community_id>/moderators/": "moderation:moderators",
    "communities/<community_id>/handover/": "moderation:handover",
    "communities/<community_id>/moderation-log/": "moderation:audit-log",
    "communities/<community_id>/removals/": "moderation:public-log",
    "topics/<topic_id>/slow-mode/": "moderation:slow-mode",
    "topics/<topic_id>/lock/": "moderation:lock",
    "messages/<message_id>/pin/": "moderation:pin",
    "messages/<message_id>/unpin/": "moderation:unpin",
    "communities/<community_id>/filters/": "moderation:filters",
    "held/<held_id>/approve/": "moderation:held-approve",
    "held/<held_id>/reject/": "moderation:held-reject",
    "report/": "moderation:report",
    "reports/": "moderation:reports",
    "reports/<report_id>/resolve/": "moderation:report-resolve",
    "topics/<topic_id>/moderation-panel/": "moderation:topic-panel",
    # Prometheus' figures of the answering process: staff or METRICS_TOKEN, a
    # plain 404 to anyone else (tests/test_metrics.py).
    "metrics": "metrics",
    # The admin (staff only; its login is the member login).
    "admin/": "admin:index",
    "admin/login/": "admin:login",
    "admin/logout/": "admin:logout",
    "admin/password_change/": "admin:password_change",
    "admin/password_change/done/": "admin:password_change_done",
    "admin/autocomplete/": "admin:autocomplete",
    "admin/jsi18n/": "admin:jsi18n",
    "admin/r/<content_type_id>/<object_id>/": "admin:view_on_site",
    "admin/^(?P<app_label>auth|accounts)/$": "admin:app_list",
    # Unknown admin paths: a redirect to the login, not a 404 that tells.
    "admin/(?P<url>.*)$": None,
    **admin_model("auth", "group"),
    **admin_model("accounts", "member"),
    "admin/accounts/member/<id>/password/": "admin:auth_user_password_change",
    **admin_model("accounts", "invitation"),
    **admin_model("accounts", "friendship"),
}


# Which converter parses a parameter (int, a bounded id, path) is the view's
# business; which routes exist is this test's.
CONVERTER = re.compile(r"<\w+:(\w+)>")


def resolvable_routes(resolver=None, prefix="", namespace=None):
    """(route, name) for every pattern under `resolver`, includes expanded,
    parameters written without their converter (`<topic_id>`)."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = (
                    f"{namespace}:{pattern.namespace}"
                    if namespace
                    else (pattern.namespace)
                )
            yield from resolvable_routes(pattern, route, inner)
        else:
            assert isinstance(pattern, URLPattern)
            name = pattern.name
            if name and namespace:
                name = f"{namespace}:{name}"
            yield CONVERTER.sub(r"<\1>", route), name


def test_every_resolvable_url_is_one_the_product_means_to_have():
    found = list(resolvable_routes())
    found_set = set(found)
    allowed = set(ALLOWED.items())

    unexpected = sorted(found_set - allowed, key=str)
    vanished = sorted(allowed - found_set, key=str)
    counts = Counter(route for route, _ in found)
    twice = sorted(route for route, count in counts.items() if count > 1)

    assert not unexpected, f"routes the product does not mean to have: {unexpected}"
    assert not vanished, f"allow-listed routes that are gone: {vanished}"
    assert not twice, f"routes mounted twice (the first one wins): {twice}"


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/email/",
        "/accounts/password/set/",
        "/accounts/reauthenticate/",
        "/accounts/confirm-email/",
        "/accounts/password/reset/done/",
        "/accounts/login/code/confirm/",
    ],
)
def test_allauths_other_account_pages_are_not_there(member_client, path):
    assert member_client.get(path).status_code == 404


def test_a_member_whose_password_was_disabled_is_logged_out_not_shown_an_error(
    member, member_client
):
    # allauth's password change page redirects a member without a usable
    # password to its "set password" page, which is not mounted. Such a
    # member's session ends with the password change (the session hash holds
    # the password), so they reach the login, never a missing URL.
    Member.objects.filter(pk=member.pk).update(password=make_password(None))

    response = member_client.get("/accounts/password/change/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_deactivated_members_right_password_leads_to_enishis_own_page(
    member_factory, client
):
    member_factory(nickname="sleepy", is_active=False)

    response = client.post(
        "/accounts/login/", {"login": "sleepy", "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain == [("/accounts/inactive/", 302)]
    assert "This account has been deactivated" in response.text
    # allauth's bare layout offered "Sign Up", a page Enishi does not have.
    assert "/accounts/signup/" not in response.text
    assert 'class="site-header"' in response.text
    assert "_auth_user_id" not in client.session


def test_favicon_ico_leads_anyone_to_the_sites_icon(client):
    # Browsers ask for it on pages without an icon link (Django's error pages).
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith("img/favicon.svg")
    assert finders.find("img/favicon.svg")  # static files are served outside Django
