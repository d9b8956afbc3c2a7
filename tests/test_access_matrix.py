"""The access-control matrix: who sees each kind of thing, through every
surface that shows it, for each audience and each viewer.

The expectations are the tables below, as data: SEES (which viewers an
audience lets in), and SURFACES, one row per way a thing reaches a viewer (a
page, an htmx fragment, a list, the home feed, member search, a file URL, a
write, the live entry stream), with which viewers it follows and what the
others get. Each row is checked in a world built for each audience
(tests/access_world.py) by asking as each viewer, and reading whether they
"saw" from what the answer carries (the thing's text in the page, the file's
bytes, the row a write made), not from its status alone.

The matrix must cover the product: test_every_route_and_stream_is_covered
fails when a URL pattern or a live stream type exists that is neither a row
here nor named in COVERED_ELSEWHERE with the test module that holds its
access tests.
"""

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import reverse

from chat import broadcast
from chat.consumers import STREAM_TYPES
from diary.models import Comment, Entry, Like
from photos.models import Album, Photo
from project.asgi import application
from tests.access_world import (
    ALBUM_TITLE,
    CAPTION,
    COMMENT_BODY,
    ENTRY_BODY,
    ENTRY_TITLE,
    INTRODUCTION,
    LISTED_FRIEND,
    VIEWERS,
    build_world,
)
from tests.chat.conftest import live_layer, tab_headers  # noqa: F401
from tests.conftest import client_for
from tests.photos.files import jpeg, upload
from tests.test_url_surface import resolvable_routes

# --- The rule -----------------------------------------------------------------

# Audience (accounts.audience.Audience values) -> the viewers it lets see.
# Blocks come first: neither the member the owner blocked nor the one who
# blocked the owner sees anything, whatever the audience; anonymous visitors
# see nothing.
SEES = {
    "members": {"owner", "friend", "fof", "other"},
    "fof": {"owner", "friend", "fof"},
    "friends": {"owner", "friend"},
    "me": {"owner"},
}
AUDIENCES = tuple(SEES)
BLOCKED_EITHER_WAY = {"blocked", "blocker"}
NOT_BLOCKED = {"owner", "friend", "fof", "other"}

# Which viewers a surface shows the thing to, by the thing's audience.
FOLLOWS: dict[str, Callable[[str], set[str]]] = {
    "audience": lambda audience: SEES[audience],
    # The home feed: entries of one's friends and friends of friends as their
    # audiences allow, never one's own (fumi knows nobody: not in her feed
    # even for "members").
    "audience, feed circle": lambda audience: SEES[audience] & {"friend", "fof"},
    # Friends in common, part of the friend list on a member's page: shown
    # to whom the list's audience lets see it and who has one in common (ben
    # has jun, eri has ben; fumi knows nobody).
    "audience, with a friend in common": lambda audience: (
        SEES[audience] & {"friend", "fof"}
    ),
    # Changing a thing: its owner alone.
    "owner only": lambda audience: {"owner"},
    # Deleting the friend's comment: its author and the entry's author, each
    # only while the entry's audience lets them see it.
    "comment deleters": lambda audience: SEES[audience] & {"owner", "friend"},
    # The member themselves (profile, avatar): every member not blocked
    # either way, whatever the audiences.
    "not blocked": lambda audience: NOT_BLOCKED,
    # Member search leaves the one searching out of the results.
    "not blocked, not self": lambda audience: NOT_BLOCKED - {"owner"},
}

# What a viewer the surface does not follow gets (anonymous visitors: the
# login redirect from every page, close code 4401 from the socket). "404" is
# the answer of a missing id or nickname; "200" is the page without the thing
# (a list or the viewer's own page); never a 500, and never a 403 to someone
# the audience keeps out, which would tell them the thing exists.
HIDDEN: dict[str, Callable[[str, str], str]] = {
    "not found": lambda viewer, audience: "404",
    # A section of a member's page or a member's list: the page without the
    # thing, but 404 for the whole page when a block is between the two.
    "page without it": lambda viewer, audience: (
        "404" if viewer in BLOCKED_EITHER_WAY else "200"
    ),
    # The viewer's own page (home, their friend list, their search).
    "own page without it": lambda viewer, audience: "200",
    # The diary's intent (diary/access.py: access_own_entry,
    # access_deletable_comment): one who may see the entry but may not change
    # it is told so (403, "only the author can..."); one who may not see it
    # gets the 404 of a missing id.
    "403 if seen else 404": lambda viewer, audience: (
        "403" if viewer in SEES[audience] else "404"
    ),
    # The live socket refuses an entry it may not show as a missing one.
    "socket refused": lambda viewer, audience: str(broadcast.CLOSE_FORBIDDEN),
}
ANONYMOUS = {"http": "login", "socket": str(broadcast.CLOSE_UNAUTHENTICATED)}

EDITED = "Matrix edited text"
NEW_COMMENT = "Matrix new comment"
# A keyset cursor after everything: the home feed's "Older entries" page.
_MICROS = (datetime(2999, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // (
    timedelta(microseconds=1)
)
FAR_FUTURE_CURSOR = f"{_MICROS}-{2**62}"


# What a viewer's answer must carry for them to have "seen" the thing.
@dataclasses.dataclass(frozen=True)
class Text:
    """This text (formatted with the world's ids) in the page's <main> (the
    navigation around it names the viewer, not the thing), or anywhere in an
    htmx fragment."""

    text: str


@dataclasses.dataclass(frozen=True)
class File:
    """These bytes served: a photo's stored size, or the owner's avatar."""

    photo: str | None  # "album_photo", "entry_photo"; None: the avatar
    size: str = ""


@dataclasses.dataclass(frozen=True)
class Row:
    """The database changed as the write says (read before it is undone)."""

    change: str


CHANGES: dict[str, Callable] = {
    "entry edited": lambda w, v: Entry.objects.filter(
        pk=w.entry.pk, title=EDITED
    ).exists(),
    "entry deleted": lambda w, v: not Entry.objects.filter(pk=w.entry.pk).exists(),
    "liked": lambda w, v: Like.objects.filter(entry=w.entry, member=v).exists(),
    "commented": lambda w, v: Comment.objects.filter(
        entry=w.entry, author=v, body=NEW_COMMENT
    ).exists(),
    "comment deleted": lambda w, v: (
        not Comment.objects.filter(pk=w.comment.pk).exists()
    ),
    "album edited": lambda w, v: Album.objects.filter(
        pk=w.album.pk, title=EDITED
    ).exists(),
    "album deleted": lambda w, v: not Album.objects.filter(pk=w.album.pk).exists(),
    "photo added": lambda w, v: Photo.objects.filter(album=w.album).count() == 2,
    "album photo captioned": lambda w, v: Photo.objects.filter(
        pk=w.album_photo.pk, caption=EDITED
    ).exists(),
    "entry photo captioned": lambda w, v: Photo.objects.filter(
        pk=w.entry_photo.pk, caption=EDITED
    ).exists(),
    "album photo deleted": lambda w, v: (
        not Photo.objects.filter(pk=w.album_photo.pk).exists()
    ),
    "entry photo deleted": lambda w, v: (
        not Photo.objects.filter(pk=w.entry_photo.pk).exists()
    ),
}


@dataclasses.dataclass(frozen=True)
class Open:
    """The live socket accepted the stream and stays open."""


@dataclasses.dataclass(frozen=True)
class Surface:
    id: str
    name: str  # URL name, or the live stream type for method SOCKET
    kind: str  # the thing whose audience decides
    method: str  # GET, POST, SOCKET
    follows: str  # FOLLOWS key
    hidden: str  # HIDDEN key
    seen: Text | File | Row | Open
    # (URL kwarg or socket query parameter, world id; "=x": x itself)
    params: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, object], ...] = ()
    htmx: bool = False
    data: tuple[tuple[str, str], ...] = ()  # POST fields ("<jpeg>": a photo)


P_NICK = (("nickname", "nickname"),)
P_ENTRY = (("entry_id", "entry"),)
P_ALBUM = (("album_id", "album"),)
P_ALBUM_PHOTO = (("photo_id", "album_photo"),)
P_ENTRY_PHOTO = (("photo_id", "entry_photo"),)
ENTRY_FORM = (("title", EDITED), ("body", ENTRY_BODY), ("audience", "{audience}"))
S = Surface

# fmt: off
SURFACES = [
    # The member and their page's sections.
    S("profile", "accounts:member-detail", "member", "GET",
      "not blocked", "not found", Text("<h1>{nickname}</h1>"), P_NICK),
    S("profile-introduction", "accounts:member-detail", "self-introduction", "GET",
      "audience", "page without it", Text(INTRODUCTION), P_NICK),
    S("profile-friend-list-link", "accounts:member-detail", "friend list", "GET",
      "audience", "page without it", Text('href="/members/{nickname}/friends/"'),
      P_NICK),
    S("profile-friends-in-common", "accounts:member-detail", "friend list", "GET",
      "audience, with a friend in common", "page without it",
      Text('id="in-common-heading"'), P_NICK),
    S("profile-entries", "accounts:member-detail", "diary entry", "GET",
      "audience", "page without it", Text(ENTRY_TITLE), P_NICK),
    S("avatar", "accounts:member-avatar", "member", "GET",
      "not blocked", "not found", File(None), P_NICK),
    S("member-friends", "accounts:member-friends", "friend list", "GET",
      "audience", "not found", Text(f'href="/members/{LISTED_FRIEND}/"'), P_NICK),
    S("my-friend-list", "accounts:friend-list", "friend list", "GET",
      "owner only", "own page without it", Text(f'href="/members/{LISTED_FRIEND}/"')),
    S("member-search", "accounts:member-search", "member", "GET",
      "not blocked, not self", "own page without it",
      Text('href="/members/{nickname}/"'), query=(("q", "aik"),)),
    # The home feed, first page and an "Older entries" page.
    S("home-feed", "home", "diary entry", "GET",
      "audience, feed circle", "own page without it", Text(ENTRY_TITLE)),
    S("home-feed-older", "home", "diary entry", "GET",
      "audience, feed circle", "own page without it", Text(ENTRY_TITLE),
      query=(("before", FAR_FUTURE_CURSOR),)),
    # Diary entries, comments and likes.
    S("member-entries", "diary:member-entries", "diary entry", "GET",
      "audience", "page without it", Text(ENTRY_TITLE), P_NICK),
    S("entry-detail", "diary:entry-detail", "diary entry", "GET",
      "audience", "not found", Text(ENTRY_BODY), P_ENTRY),
    S("entry-detail-comment", "diary:entry-detail", "comment", "GET",
      "audience", "not found", Text(COMMENT_BODY), P_ENTRY),
    S("entry-detail-photo", "diary:entry-detail", "entry photo", "GET",
      "audience", "not found", Text('src="/photos/{entry_photo}/thumb/"'), P_ENTRY),
    S("entry-catch-up-fragment", "diary:entry-detail", "comment", "GET",
      "audience", "not found", Text(COMMENT_BODY), P_ENTRY, query=(("after", 0),),
      htmx=True),
    S("entry-edit-page", "diary:entry-edit", "diary entry", "GET",
      "owner only", "403 if seen else 404", Text(ENTRY_TITLE), P_ENTRY),
    S("entry-edit", "diary:entry-edit", "diary entry", "POST",
      "owner only", "403 if seen else 404", Row("entry edited"), P_ENTRY,
      data=ENTRY_FORM),
    S("entry-delete-page", "diary:entry-delete", "diary entry", "GET",
      "owner only", "403 if seen else 404", Text(ENTRY_TITLE), P_ENTRY),
    S("entry-delete", "diary:entry-delete", "diary entry", "POST",
      "owner only", "403 if seen else 404", Row("entry deleted"), P_ENTRY),
    S("entry-like", "diary:entry-like", "diary entry", "POST",
      "audience", "not found", Row("liked"), P_ENTRY),
    S("comment-create", "diary:comment-create", "comment", "POST",
      "audience", "not found", Row("commented"), P_ENTRY,
      data=(("body", NEW_COMMENT),)),
    S("comment-delete", "diary:comment-delete", "comment", "POST",
      "comment deleters", "403 if seen else 404", Row("comment deleted"),
      (("comment_id", "comment"),)),
    # The same writes as htmx posts them from the entry page (fragments back;
    # a refusal answers 200 with X-Refused, read as the status it stands for).
    S("entry-like-htmx", "diary:entry-like", "diary entry", "POST",
      "audience", "not found", Row("liked"), P_ENTRY, htmx=True),
    S("comment-create-htmx", "diary:comment-create", "comment", "POST",
      "audience", "not found", Row("commented"), P_ENTRY, htmx=True,
      data=(("body", NEW_COMMENT),)),
    S("comment-delete-htmx", "diary:comment-delete", "comment", "POST",
      "comment deleters", "403 if seen else 404", Row("comment deleted"),
      (("comment_id", "comment"),), htmx=True),
    # Albums. Their pages for changing (edit, delete, add photos) answer 404
    # to anyone but the owner, even to one who sees the album
    # (photos/access.py: own_album, own_photo).
    S("album-list", "photos:album-list", "album", "GET",
      "audience", "page without it", Text(ALBUM_TITLE), P_NICK),
    S("album-list-cover", "photos:album-list", "album photo", "GET",
      "audience", "page without it", Text('src="/photos/{album_photo}/thumb/"'),
      P_NICK),
    S("album-detail", "photos:album-detail", "album", "GET",
      "audience", "not found", Text(ALBUM_TITLE), P_ALBUM),
    S("album-detail-photo", "photos:album-detail", "album photo", "GET",
      "audience", "not found", Text('src="/photos/{album_photo}/thumb/"'), P_ALBUM),
    S("album-edit-page", "photos:album-edit", "album", "GET",
      "owner only", "not found", Text(ALBUM_TITLE), P_ALBUM),
    S("album-edit", "photos:album-edit", "album", "POST",
      "owner only", "not found", Row("album edited"), P_ALBUM,
      data=(("title", EDITED), ("audience", "{audience}"))),
    S("album-delete-page", "photos:album-delete", "album", "GET",
      "owner only", "not found", Text(ALBUM_TITLE), P_ALBUM),
    S("album-delete", "photos:album-delete", "album", "POST",
      "owner only", "not found", Row("album deleted"), P_ALBUM),
    S("photo-add-page", "photos:photo-add", "album", "GET",
      "owner only", "not found", Text(ALBUM_TITLE), P_ALBUM),
    S("photo-add", "photos:photo-add", "album", "POST",
      "owner only", "not found", Row("photo added"), P_ALBUM,
      data=(("photos", "<jpeg>"), ("caption", ""))),
    # Photos, of the album and of the diary entry, and their files.
    S("album-photo-detail", "photos:photo-detail", "album photo", "GET",
      "audience", "not found", Text(CAPTION), P_ALBUM_PHOTO),
    S("entry-photo-detail", "photos:photo-detail", "entry photo", "GET",
      "audience", "not found", Text(ENTRY_TITLE), P_ENTRY_PHOTO),
    S("album-photo-thumb", "photos:photo-file", "album photo", "GET",
      "audience", "not found", File("album_photo", "thumb"),
      (*P_ALBUM_PHOTO, ("size", "=thumb"))),
    S("album-photo-display", "photos:photo-file", "album photo", "GET",
      "audience", "not found", File("album_photo", "display"),
      (*P_ALBUM_PHOTO, ("size", "=display"))),
    S("entry-photo-thumb", "photos:photo-file", "entry photo", "GET",
      "audience", "not found", File("entry_photo", "thumb"),
      (*P_ENTRY_PHOTO, ("size", "=thumb"))),
    S("entry-photo-display", "photos:photo-file", "entry photo", "GET",
      "audience", "not found", File("entry_photo", "display"),
      (*P_ENTRY_PHOTO, ("size", "=display"))),
    S("album-photo-edit-page", "photos:photo-edit", "album photo", "GET",
      "owner only", "not found", Text('src="/photos/{album_photo}/thumb/"'),
      P_ALBUM_PHOTO),
    S("album-photo-edit", "photos:photo-edit", "album photo", "POST",
      "owner only", "not found", Row("album photo captioned"), P_ALBUM_PHOTO,
      data=(("caption", EDITED),)),
    S("entry-photo-edit-page", "photos:photo-edit", "entry photo", "GET",
      "owner only", "not found", Text('src="/photos/{entry_photo}/thumb/"'),
      P_ENTRY_PHOTO),
    S("entry-photo-edit", "photos:photo-edit", "entry photo", "POST",
      "owner only", "not found", Row("entry photo captioned"), P_ENTRY_PHOTO,
      data=(("caption", EDITED),)),
    S("album-photo-delete-page", "photos:photo-delete", "album photo", "GET",
      "owner only", "not found", Text('src="/photos/{album_photo}/thumb/"'),
      P_ALBUM_PHOTO),
    S("album-photo-delete", "photos:photo-delete", "album photo", "POST",
      "owner only", "not found", Row("album photo deleted"), P_ALBUM_PHOTO),
    S("entry-photo-delete-page", "photos:photo-delete", "entry photo", "GET",
      "owner only", "not found", Text('src="/photos/{entry_photo}/thumb/"'),
      P_ENTRY_PHOTO),
    S("entry-photo-delete", "photos:photo-delete", "entry photo", "POST",
      "owner only", "not found", Row("entry photo deleted"), P_ENTRY_PHOTO),
    # The entry page's live stream (comments and likes) on the one socket.
    S("entry-stream", "entry", "diary entry", "SOCKET",
      "audience", "socket refused", Open(), P_ENTRY),
]
# fmt: on

# Routes and streams whose access is tested elsewhere: they show no thing of
# another member's that has an audience (one's own settings, requests and
# blocks, creating one's own entry or album, communities, chat, the admin).
COVERED_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "set_language": ("tests/test_translations.py",),
    "favicon": ("tests/test_url_surface.py",),
    "metrics": ("tests/test_metrics.py",),
    "account_login": (
        "tests/accounts/test_views.py",
        "tests/accounts/test_throttling.py",
    ),
    "account_logout": ("tests/accounts/test_views.py",),
    "account_change_password": ("tests/test_url_surface.py",),
    "account_inactive": ("tests/test_url_surface.py",),
    "password-reset-unavailable": ("tests/accounts/test_views.py",),
    "accounts/signup/": ("tests/test_url_surface.py",),
    "admin": (
        "tests/accounts/test_throttling.py",
        "tests/accounts/test_nickname_impersonation.py",
    ),
    "accounts:join-open": ("tests/accounts/test_views.py",),
    "accounts:join": ("tests/accounts/test_views.py",),
    "accounts:invitation-list": ("tests/accounts/test_views.py",),
    "accounts:invitation-revoke": ("tests/accounts/test_views.py",),
    "accounts:profile-edit": (
        "tests/accounts/test_views.py",
        "tests/accounts/test_friends.py",
    ),
    "accounts:friend-requests": ("tests/accounts/test_friends.py",),
    "accounts:friend-request-send": (
        "tests/accounts/test_friends.py",
        "tests/accounts/test_blocks.py",
    ),
    "accounts:friend-request-accept": ("tests/accounts/test_friends.py",),
    "accounts:friend-request-decline": ("tests/accounts/test_friends.py",),
    "accounts:friend-request-cancel": ("tests/accounts/test_friends.py",),
    "accounts:unfriend": ("tests/accounts/test_friends.py",),
    "accounts:block": ("tests/accounts/test_blocks.py",),
    "accounts:block-list": ("tests/accounts/test_blocks.py",),
    "accounts:unblock": ("tests/accounts/test_blocks.py",),
    "diary:entry-create": ("tests/diary/test_views.py",),
    "photos:album-create": ("tests/photos/test_views.py",),
    "footprints:list": (
        "tests/presence/test_footprints.py",
        "tests/presence/test_footprints_walk.py",
    ),
    "footprints:erase": ("tests/presence/test_footprints.py",),
    "presence:notifications": (
        "tests/accounts/test_views.py",
        "tests/presence/test_notifications.py",
    ),
    **{
        f"presence:{name}": ("tests/presence/test_notifications.py",)
        for name in (
            "notifications-read-all",
            "notification-badge",
            "notification-open",
            "notification-read",
            "notification-settings",
            "topic-mute",
        )
    },
    **{
        f"push:{name}": ("tests/presence/test_push_views.py",)
        for name in (
            "manifest",
            "service-worker",
            "offline",
            "devices",
            "device-subscribe",
            "device-remove",
        )
    },
    **{
        f"communities:{name}": (
            "tests/communities/test_access.py",
            "tests/communities/test_views.py",
        )
        for name in (
            "directory",
            "mine",
            "create",
            "detail",
            "edit",
            "icon",
            "members",
            "join",
            "leave",
            "invite",
            "request-decide",
            "member-role",
            "topic-create",
        )
    },
    "chat:topic-detail": ("tests/communities/test_access.py",),
    "chat:message-list": ("tests/chat/test_catch_up.py", "tests/chat/test_messages.py"),
    "chat:topic-read": ("tests/chat/test_catch_up.py",),
    "chat:topic-here": ("tests/presence/test_here.py",),
    "chat:message-create": ("tests/chat/test_send.py",),
    "chat:message-edit": ("tests/chat/test_messages.py",),
    "chat:message-delete": ("tests/chat/test_messages.py",),
    "chat:message-like": ("tests/chat/test_messages.py",),
    # A message photo's file: the topic's members not separated from its author
    # by a block, while the message is not deleted; 404 for anyone else.
    "chat:message-photo": ("tests/chat/test_message_photos.py",),
    # An event is seen by its community's active members not separated from
    # its organiser by a block: a matrix of its own, by viewer and route.
    **{
        f"events:{name}": ("tests/events/test_access.py",)
        for name in (
            "detail",
            "rsvp",
            "attendees",
            "ics",
            "edit",
            "cancel",
            "close",
            "message",
            "invite",
            "attendees-csv",
        )
    },
    **{
        f"events:{name}": ("tests/events/test_pages.py",) for name in ("list", "create")
    },
    **{
        f"events:{name}": ("tests/events/test_calendar.py",)
        for name in ("feed", "calendar-settings")
    },
    **{
        f"moderation:{name}": (
            "tests/moderation/test_members.py",
            "tests/moderation/test_logs.py",
        )
        for name in (
            "mute",
            "unmute",
            "ban",
            "unban",
            "moderators",
            "handover",
            "audit-log",
            "public-log",
        )
    },
    **{
        f"moderation:{name}": ("tests/moderation/test_room.py",)
        for name in ("slow-mode", "lock", "pin", "unpin")
    },
    **{
        f"moderation:{name}": ("tests/moderation/test_filters.py",)
        for name in ("filters", "held-approve", "held-reject")
    },
    **{
        f"moderation:{name}": ("tests/moderation/test_reports.py",)
        for name in ("report", "reports", "report-resolve", "topic-panel")
    },
}
STREAMS_COVERED_ELSEWHERE = {
    "topic": ("tests/chat/test_topic_streams.py", "tests/chat/test_socket_connect.py"),
    "event": ("tests/events/test_access.py", "tests/events/test_live.py"),
}


# --- The completeness guard ---------------------------------------------------


def coverage_key(route: str, name: str | None) -> str:
    """What a route is covered by: its URL name; the admin's routes (staff
    only, Django's) as one; a route without a name by itself."""
    if route.startswith("admin/"):
        return "admin"
    return name or route


def uncovered(routes, stream_types) -> list[str]:
    """Routes and stream types neither in SURFACES nor in COVERED_ELSEWHERE."""
    in_matrix = {s.name for s in SURFACES if s.method != "SOCKET"}
    streams = {s.name for s in SURFACES if s.method == "SOCKET"}
    missing = sorted(
        {
            coverage_key(route, name)
            for route, name in routes
            if coverage_key(route, name) not in in_matrix | set(COVERED_ELSEWHERE)
        }
    )
    missing += [
        f"stream {kind}"
        for kind in stream_types
        if kind not in streams | set(STREAMS_COVERED_ELSEWHERE)
    ]
    return missing


def test_every_route_and_stream_is_covered():
    routes = list(resolvable_routes())
    missing = uncovered(routes, STREAM_TYPES)
    assert not missing, (
        "routes or live streams with no row in the access matrix and no "
        f"COVERED_ELSEWHERE entry: {missing}"
    )
    # Nothing in the tables that the product no longer has.
    keys = {coverage_key(route, name) for route, name in routes}
    stale = sorted(
        ({s.name for s in SURFACES if s.method != "SOCKET"} | set(COVERED_ELSEWHERE))
        - keys
    )
    stale += sorted(
        (
            {s.name for s in SURFACES if s.method == "SOCKET"}
            | set(STREAMS_COVERED_ELSEWHERE)
        )
        - set(STREAM_TYPES)
    )
    assert not stale, f"rows for routes or streams that do not exist: {stale}"
    # Each module named as holding the access tests is there.
    named = {
        path
        for paths in (*COVERED_ELSEWHERE.values(), *STREAMS_COVERED_ELSEWHERE.values())
        for path in paths
    }
    gone = sorted(p for p in named if not (settings.BASE_DIR / p).is_file())
    assert not gone, f"COVERED_ELSEWHERE names test modules that do not exist: {gone}"
    assert len({s.id for s in SURFACES}) == len(SURFACES), "surface ids repeat"


def test_the_guard_reports_a_route_or_stream_the_matrix_does_not_cover():
    routes = [
        *resolvable_routes(),
        ("diary/<entry_id>/secret/", "diary:entry-secret"),
        ("unnamed/", None),
    ]
    assert uncovered(routes, (*STREAM_TYPES, "album")) == [
        "diary:entry-secret",
        "unnamed/",
        "stream album",
    ]


# --- Asking as each viewer ----------------------------------------------------


def expected(surface: Surface, audience: str) -> dict[str, str]:
    follows = FOLLOWS[surface.follows](audience)
    channel = "socket" if surface.method == "SOCKET" else "http"
    return {
        viewer: (
            ANONYMOUS[channel]
            if viewer == "anonymous"
            else "seen"
            if viewer in follows
            else HIDDEN[surface.hidden](viewer, audience)
        )
        for viewer in VIEWERS
    }


def url_of(surface: Surface, ids: dict) -> str:
    kwargs = {
        kwarg: (key[1:] if key.startswith("=") else ids[key])
        for kwarg, key in surface.params
    }
    url = reverse(surface.name, kwargs=kwargs)
    if surface.query:
        url += "?" + urlencode(surface.query)
    return url


def main_of(html: str) -> str:
    start = html.find("<main")
    end = html.find("</main>")
    assert 0 <= start < end, "a page without its <main>"
    return html[start:end]


def carries(surface, world, member, response) -> bool:
    """Whether the answer carries the thing (see Text, File, Row)."""
    seen = surface.seen
    if isinstance(seen, Row):
        return CHANGES[seen.change](world, member)
    if isinstance(seen, File):
        if seen.photo is None:
            stored = world.owner.avatar
        else:
            stored = getattr(world, seen.photo).file(seen.size)
        with stored.open("rb") as file:
            expected_bytes = file.read()
        body = (
            b"".join(response.streaming_content)
            if response.streaming
            else response.content
        )
        return body == expected_bytes
    if response.streaming:
        return False
    html = response.content.decode()
    text = seen.text.format(**world.ids(), audience=world.audience)
    if not surface.htmx and response.status_code == 200 and "<main" in html:
        html = main_of(html)
    return text in html


def outcome(response, saw: bool) -> str:
    """ "seen", or what the viewer got instead: "login", "404", "403", "200"
    (the page without the thing); anything else (a 500, a status with the
    thing in it) is named as it is, and matches no expectation."""
    status = response.status_code
    # htmx refusals answer 200 with the status they stand for (project/refusals.py).
    if "X-Refused" in response:
        status = int(response["X-Refused"])
    location = response.get("Location", "")
    if status == 302 and location.startswith(reverse(settings.LOGIN_URL)):
        return "login" if not saw else "login, yet changed"
    if saw:
        return "seen" if status in (200, 201, 302) else f"{status} with the thing"
    return str(status)


def missing_ids(ids: dict) -> dict:
    """The same parameters naming nothing: a nickname no one has, ids no row
    has."""
    return {
        key: "nobody-here" if key == "nickname" else 2**40 + index
        for index, key in enumerate(ids)
    }


def request(surface, world, client, ids):
    headers = {"HTTP_HX_REQUEST": "true"} if surface.htmx else {}
    data = {
        field: (
            upload("new.jpg", jpeg())
            if value == "<jpeg>"
            else value.format(audience=world.audience)
        )
        for field, value in surface.data
    }
    url = url_of(surface, ids)
    if surface.method == "POST":
        return client.post(url, data, **headers)
    return client.get(url, **headers)


def ask(surface, world, viewer, client) -> str:
    member = world.people.get(viewer)
    # Every question in a savepoint undone after it: one viewer's like,
    # comment, edit or deletion never changes what the next one gets.
    with transaction.atomic():
        response = request(surface, world, client, world.ids())
        saw = carries(surface, world, member, response)
        transaction.set_rollback(True)
    answer = outcome(response, saw)
    if answer == "404":
        # Hidden exactly as nothing at all: the same answer as for a
        # nickname or an id that does not exist.
        with transaction.atomic():
            missing = request(surface, world, client, missing_ids(world.ids()))
            transaction.set_rollback(True)
        if (missing.status_code, missing.content) != (404, response.content):
            return "404 unlike a missing one"
    return answer


HTTP_CASES = [
    pytest.param(surface, audience, id=f"{surface.id}-{audience}")
    for surface in SURFACES
    if surface.method != "SOCKET"
    for audience in AUDIENCES
]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.django_db
@pytest.mark.parametrize(("surface", "audience"), HTTP_CASES)
def test_each_surface_answers_as_the_audience_says(
    surface, audience, django_capture_on_commit_callbacks
):
    world = build_world(audience, capture=django_capture_on_commit_callbacks)
    clients = {
        viewer: client_for(world.people[viewer]) if viewer in world.people else Client()
        for viewer in VIEWERS
    }

    got = {viewer: ask(surface, world, viewer, clients[viewer]) for viewer in VIEWERS}

    want = expected(surface, audience)
    saw = {viewer for viewer, answer in got.items() if answer == "seen"}
    should = {viewer for viewer, answer in want.items() if answer == "seen"}
    assert saw == should, (
        f"{surface.kind} ({audience}) through {surface.method} {surface.name}: "
        f"seen by {sorted(saw)}, the audience says {sorted(should)}"
    )
    assert got == want, f"{surface.kind} ({audience}) through {surface.name}"


# --- The live stream ----------------------------------------------------------

STREAM_CASES = [
    pytest.param(surface, audience, id=f"{surface.id}-{audience}")
    for surface in SURFACES
    if surface.method == "SOCKET"
    for audience in AUDIENCES
]


@database_sync_to_async
def session_keys(world) -> dict[str, str | None]:
    return {
        viewer: (
            client_for(world.people[viewer]).cookies[settings.SESSION_COOKIE_NAME].value
            if viewer in world.people
            else None
        )
        for viewer in VIEWERS
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
@pytest.mark.parametrize(("surface", "audience"), STREAM_CASES)
async def test_each_live_stream_answers_as_the_audience_says(
    surface,
    audience,
    live_layer,  # noqa: F811
):
    # The socket's `entry=` stream through the real application (the Redis
    # layer when REDIS_URL is set, as settings build it; else in memory).
    assert surface.name in STREAM_TYPES
    world = await database_sync_to_async(build_world)(audience, photos=False)
    keys = await session_keys(world)
    ids = world.ids()
    query = urlencode([(surface.name, ids[key]) for _kwarg, key in surface.params])

    got = {}
    opened = []
    try:
        for viewer in VIEWERS:
            socket = WebsocketCommunicator(
                application,
                f"/ws/live/?{query}&lang=en",
                headers=tab_headers(keys[viewer]),
            )
            opened.append(socket)
            connected, _ = await socket.connect(timeout=3)
            assert connected, viewer
            if await socket.receive_nothing(timeout=0.2):
                got[viewer] = "seen"
            else:
                output = await socket.receive_output(timeout=1)
                got[viewer] = (
                    str(output["code"])
                    if output["type"] == "websocket.close"
                    else f"frame {output}"
                )
    finally:
        for socket in opened:
            if not socket.future.done():
                await socket.disconnect()

    want = expected(surface, audience)
    saw = {viewer for viewer, answer in got.items() if answer == "seen"}
    should = {viewer for viewer, answer in want.items() if answer == "seen"}
    assert saw == should, (
        f"stream {surface.name} ({audience}): open for {sorted(saw)}, "
        f"the audience says {sorted(should)}"
    )
    assert got == want, f"stream {surface.name} ({audience})"
