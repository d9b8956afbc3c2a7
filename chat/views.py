"""Topic pages and the writes in them. Writes go over HTTP (htmx posts); the
live socket only pushes. Every view starts with chat.access."""

import functools
import time
import uuid
from datetime import timedelta

from django.contrib import messages as flash
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Block
from chat import access, actions, catchup, fragments
from chat.models import Like, Message
from communities.access import AccessDenied, NotAllowed
from communities.models import Membership, TopicRead
from communities.views import community_page
from moderation import room
from presence import here
from project.input import BadInput, datetime_param, int_param, ranges_param
from project.overload import sheds_load
from project.refusals import refusal, refused

PAGE_SIZE = 50
# Messages per catch-up answer. After an outage every tab asks at once, and a
# request's fixed cost (session, access, likes) is paid per page: large pages
# cost the server less per message (make faults).
CATCHUP_LIMIT = 500
SYNC_OVERLAP = timedelta(seconds=5)
shared_reads = catchup.SharedReads(CATCHUP_LIMIT)


def _refused(request, topic, exc: NotAllowed):
    """A refused send: the reason for the composer (project/refusals.py), or a
    flash and the page for a plain form post. A refusal that says when to
    try again (slow mode) carries it as Retry-After."""
    if request.htmx:
        response = refusal(request, str(exc), exc.status)
    else:
        flash.error(request, str(exc))
        response = redirect(topic)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _strangers_refused_at_the_composer(view):
    """A write (or a catch-up) from the topic page to a topic or message the
    member may not see (left, banned, never there, or no such id: the same
    words for each) is refused at the composer; a 404 page's HTML would show
    there as markup, and a page banned meanwhile would log it as an error.
    Plain requests get the 404 page."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Http404:
            if not request.htmx:
                raise
            return refusal(
                request, _("Only members of this community can do that."), 404
            )

    return wrapped


def _page_of(topic, member, *, before: int | None = None):
    """Up to PAGE_SIZE messages before `before` (newest page when None), oldest
    first, and whether older ones exist. Keyset pagination on the id."""
    messages = Message.objects.in_topic(topic).visible_to(member).for_display()
    if before is not None:
        messages = messages.filter(pk__lt=before)
    rows = list(messages.order_by("-pk")[: PAGE_SIZE + 1])
    has_older = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    rows.reverse()
    return rows, has_older


def _liked_ids(member, rows) -> set[int]:
    return set(
        Like.objects.filter(
            member=member, message__in=[m.pk for m in rows]
        ).values_list("message_id", flat=True)
    )


def topic_detail(request, topic_id):
    try:
        topic, membership = access.access_topic(request.user, topic_id)
    except AccessDenied:
        # Someone who may join sees the community and the way in; anyone else
        # gets the same "not found" as for a topic id that does not exist.
        community, membership = access.community_to_join(request.user, topic_id)
        return community_page(request, community, membership, topic_url=request.path)
    # Taken before the page's query: a change made meanwhile comes back in the
    # first catch-up rather than falling between the two.
    synced_at = timezone.now()
    rows, has_older = _page_of(topic, request.user)
    read = TopicRead.objects.filter(topic=topic, member=request.user).first()
    last_read_id = read.last_read_id if read else 0
    divider_before = next(
        (m.pk for m in rows if m.pk > last_read_id and m.author_id != request.user.pk),
        None,
    )
    if rows and rows[-1].pk > last_read_id:
        actions.mark_read(member=request.user, topic=topic, last_id=rows[-1].pk)
    hidden_ids = Block.objects.hidden_id_set(request.user)
    return TemplateResponse(
        request,
        "chat/topic_detail.html",
        {
            "topic": topic,
            "community": topic.community,
            "membership": membership,
            "rows": rows,
            "has_older": has_older,
            "liked_ids": _liked_ids(request.user, rows),
            "divider_before": divider_before if last_read_id else None,
            "synced_at": synced_at.isoformat(),
            # Catch-up starts after the newest message shown.
            "cursor": rows[-1].pk if rows else 0,
            "client_id": uuid.uuid4().hex,
            "hidden_ids": hidden_ids,
            # Who's here now, for this viewer: one Redis call, one query.
            "here": here.listing(topic.pk, hidden_ids=hidden_ids),
            "pins": room.pinned_messages(topic.pk),
            **room.state_context(topic),
            **_moderation_links(topic.community_id),
            "protected_ids": _protected_ids(topic.community_id, membership),
            # The moderator's panel (recent reports) loads after the page.
            "panel_url": (
                _optional_url("moderation:topic-panel", topic_id=topic.pk)
                if membership.is_moderator
                else ""
            ),
        },
    )


def _protected_ids(community_id: int, membership) -> list[int]:
    """For a moderator's page: the members whose messages they may not
    delete, nor mute or ban them (the owner, the other moderators:
    moderation.access.can_act_on), so their menus leave those out. The server
    refuses them anyway; an owner's and a member's pages need none."""
    if membership.role != Membership.Role.MODERATOR or not membership.is_active:
        return []
    return list(
        Membership.objects.filter(
            community_id=community_id,
            status=Membership.Status.ACTIVE,
            role__in=[Membership.Role.OWNER, Membership.Role.MODERATOR],
        )
        .exclude(member_id=membership.member_id)
        .values_list("member_id", flat=True)
    )


def _optional_url(name: str, **kwargs) -> str:
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


# A member id no one has, replaced by "{member}" in a link the page completes
# with a message's author (static/js/chat.js).
_ANY_MEMBER = 987654321


def _moderation_links(community_id: int) -> dict:
    """Where a message's menu leads (Report, Mute author, Ban author), for the
    page to complete per message: the same for every message, so the
    fragments stay the same for every viewer. Empty while a route is not
    there."""
    links = {"report_url": _optional_url("moderation:report")}
    for action in ("mute", "ban"):
        url = _optional_url(
            f"moderation:{action}", community_id=community_id, member_id=_ANY_MEMBER
        )
        links[f"{action}_url"] = url.replace(str(_ANY_MEMBER), "{member}")
    return links


def _within(message_id: int, ranges: list[tuple[int, int]]) -> bool:
    return any(first <= message_id <= last for first, last in ranges)


@require_GET
@sheds_load
@_strangers_refused_at_the_composer
def message_list(request, topic_id):
    """Fragments for the topic page: `?before=<id>` for the page of older
    messages, `?after=<id>[&since=<time>][&have=<id ranges>]` for catch-up
    after a socket (re)opens: everything newer than the page's cursor, in
    order, but for the ids it says it has, plus messages edited, deleted or
    liked since the page last synced (docs/live-protocol.md)."""
    topic, _membership = access.access_topic(request.user, topic_id)
    now = timezone.now()
    before = int_param(request.GET, "before")
    after = int_param(request.GET, "after")
    since = datetime_param(request.GET, "since")
    # Ids the page already holds above `after` (live frames): counted for
    # the cursor, not sent again.
    held = ranges_param(request.GET, "have")
    if before is not None:
        rows, has_older = _page_of(topic, request.user, before=before)
        return TemplateResponse(
            request,
            "chat/topic_detail.html#older",
            {
                "topic": topic,
                "rows": rows,
                "has_older": has_older,
                "liked_ids": _liked_ids(request.user, rows),
                "hidden_ids": Block.objects.hidden_id_set(request.user),
            },
        )
    if after is None:
        return refusal(request, _("Say which messages."), 400)
    visible = Message.objects.in_topic(topic).visible_to(request.user)
    hidden_ids = Block.objects.hidden_id_set(request.user)
    if hidden_ids:
        # Values only: the fragments come from the cache (chat/fragments.py),
        # built once for every page.
        rows = list(catchup.rows_after(visible, after, CATCHUP_LIMIT))
    else:
        # Hidden from no one, this member sees the topic as every such member
        # does: the same read serves the pages asking together (chat/catchup.py).
        read = shared_reads.rows_after(
            topic.pk, after, getattr(request, "arrived_at", time.monotonic())
        )
        rows = list(read.rows)
        now = min(now, read.taken_at)
    more = len(rows) > CATCHUP_LIMIT
    rows = rows[:CATCHUP_LIMIT]
    changed = []
    if since is not None:
        changed = list(
            visible.for_display()
            .filter(pk__lte=after)
            .filter(changed_at__gte=since)
            .order_by("pk")[:CATCHUP_LIMIT]
        )
    # The member's likes among them: by id range, not a list of 200 ids.
    liked_ids = set(
        Like.objects.filter(member=request.user, message__topic=topic)
        .filter(
            Q(message_id__gt=after, message_id__lte=rows[-1].pk if rows else after)
            | Q(message_id__in=[m.pk for m in changed])
        )
        .values_list("message_id", flat=True)
    )
    response = TemplateResponse(
        request,
        "chat/topic_detail.html#catchup",
        {
            "topic": topic,
            "new_html": fragments.messages_html(
                [row for row in rows if not _within(row.pk, held)],
                liked_ids=liked_ids,
                hidden_ids=hidden_ids,
            ),
            "changed": changed,
            "liked_ids": liked_ids,
            "hidden_ids": hidden_ids,
        },
    )
    # The page's cursor moves only here, and only to the last id of an answer
    # it received: every visible message up to it is in this answer or was in
    # an earlier one (docs/live-protocol.md, "Catch-up").
    response["X-Cursor"] = str(rows[-1].pk if rows else after)
    response["X-More"] = "1" if more else "0"
    # Overlapping by a few seconds: a change whose transaction was still open
    # when this one read comes back next time instead of never.
    response["X-Synced-At"] = (now - SYNC_OVERLAP).isoformat()
    # Not read: a page catching up in a background tab has not been seen. The
    # page reports what it showed (topic_read) when it is visible.
    return response


@require_POST
@_strangers_refused_at_the_composer
def message_create(request, topic_id):
    """Send a message, with up to chat.actions.MAX_PHOTOS photos (multipart,
    files under "photos"). Answers 201 with the message as an out-of-band
    fragment (the page de-duplicates it with the copy the socket brings), or
    200 for a resend of a message already saved; refusals are plain text."""
    topic, membership = access.access_topic(request.user, topic_id)
    reply_to = int_param(request.POST, "reply_to") or None
    try:
        message, created = actions.send_message(
            author=request.user,
            topic=topic,
            membership=membership,
            body=request.POST.get("body", ""),
            client_id=request.POST.get("client_id", ""),
            reply_to_id=reply_to,
            photos=request.FILES.getlist("photos"),
        )
    except NotAllowed as exc:
        return _refused(request, topic, exc)
    if not request.htmx:
        return redirect(topic)
    prev_id = getattr(message, "prev_id", None)  # not known for a resend
    message = fragments.with_relations(message)
    return TemplateResponse(
        request,
        "chat/topic_detail.html#message-append",
        {
            "message": message,
            "prev_id": prev_id,
            "liked_ids": set(),
            # A quote of a member who blocked the sender since is masked.
            "hidden_ids": Block.objects.hidden_id_set(request.user),
        },
        status=201 if created else 200,
    )


@require_POST
@_strangers_refused_at_the_composer
def message_edit(request, message_id):
    try:
        message, _membership = access.access_editable_message(request.user, message_id)
        actions.edit_message(message=message, body=request.POST.get("body", ""))
    except NotAllowed as exc:
        return refused(request, exc)
    return _message_response(request, message)


@require_POST
@_strangers_refused_at_the_composer
def message_delete(request, message_id):
    try:
        message, _membership = access.access_deletable_message(request.user, message_id)
    except NotAllowed as exc:
        return refusal(request, str(exc), exc.status)
    try:
        room.delete_message(
            request.user,
            message,
            rule=request.POST.get("rule", ""),
            reason=request.POST.get("reason", ""),
        )
    except NotAllowed as exc:
        return refusal(request, str(exc), exc.status)
    return _message_response(request, message)


@require_POST
@_strangers_refused_at_the_composer
def message_like(request, message_id):
    message, membership = access.access_message(request.user, message_id)
    try:
        access.require_can_post(membership)  # a muted member may not like either
        message, liked = actions.toggle_like(member=request.user, message=message)
    except NotAllowed as exc:
        return refused(request, exc)
    if not request.htmx:
        return redirect(message.topic)
    return TemplateResponse(
        request,
        "chat/topic_detail.html#like-button",
        {
            "message": message,
            "liked_ids": {message.pk} if liked else set(),
            "like_oob": True,
        },
    )


def _message_response(request, message, liked_ids=None):
    if not request.htmx:
        return redirect(message.topic)
    if liked_ids is None:
        liked_ids = _liked_ids(request.user, [message])
    message = Message.objects.for_display().get(pk=message.pk)
    return TemplateResponse(
        request,
        "chat/topic_detail.html#message-replace",
        {
            "message": message,
            "liked_ids": liked_ids,
            "hidden_ids": Block.objects.hidden_id_set(request.user),
        },
    )


@require_POST
def topic_read(request, topic_id):
    topic, _membership = access.access_topic(request.user, topic_id)
    last_id = int_param(request.POST, "last_id")
    if last_id is None:
        raise BadInput(_("Say which message was read last."))
    actions.mark_read(member=request.user, topic=topic, last_id=last_id)
    return HttpResponse(status=204)
