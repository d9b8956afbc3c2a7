"""What a diary entry's writes push, after they commit: rendered once per
language (comments, like counts) or not rendered at all (notices), and sent
through chat/broadcast.py, the one module that talks to the channel layer.

Who receives what:
- a comment, a deleted comment and a like count go to every socket showing
  the entry (`entry.<id>.<lang>`, joined only after diary.access allowed the
  page's stream). The comment's author (or the liker) rides along as
  `author_ids`, so the hub drops the frame on the sockets of members hidden
  from them by a block, as for a chat message;
- a notice of a comment or a like goes to the entry's author (`user.<id>`);
- a notice of a new entry goes to the members whose home feed shows it
  (feed_recipient_ids): the home page then offers "New entries" rather than
  moving the feed under the reader's eyes.

Notices are bare `<template id="live-...">` frames: live.js keeps them out of
the page, and only a page that wants them (the home page, static/js/home.js)
reads their attributes. They carry ids and URLs, never words, so one frame
serves every language.
"""

from django.db.models import Q
from django.utils.html import escape

from accounts.audience import Audience, friend_ids, friend_of_friend_ids
from accounts.models import Block, Member
from chat import broadcast, fragments

ENTRY_TEMPLATE = "diary/entry_detail.html"


def render_per_language(partial: str, context: dict) -> dict[str, str]:
    return fragments.render_per_language(partial, context, ENTRY_TEMPLATE)


def publish_comment(comment) -> None:
    frames = render_per_language(
        "comment-append", {"comment": comment, "entry_id": comment.entry_id}
    )
    broadcast.send_entry_frames(
        comment.entry_id, frames, author_ids=(comment.author_id,)
    )
    entry = comment.entry
    if entry.author_id != comment.author_id:
        broadcast.send_html_to_member(
            entry.author_id, _notice("live-diary-comment", entry)
        )


def publish_comment_deleted(comment) -> None:
    frames = render_per_language("comment-gone", {"comment": comment})
    broadcast.send_entry_frames(
        comment.entry_id, frames, author_ids=(comment.author_id,)
    )


def publish_like(entry, *, member_id: int, liked: bool) -> None:
    frames = render_per_language(
        "like-count",
        {"entry": entry, "like_count": entry.likes.count(), "count_oob": True},
    )
    broadcast.send_entry_frames(entry.pk, frames, author_ids=(member_id,))
    if liked and entry.author_id != member_id:
        broadcast.send_html_to_member(
            entry.author_id, _notice("live-diary-like", entry)
        )


def publish_new_entry(entry) -> None:
    recipients = feed_recipient_ids(entry)
    if recipients:
        broadcast.send_html_to_members(recipients, _notice("live-new-entry", entry))


def _notice(kind: str, entry) -> str:
    return (
        f'<template id="{kind}" data-entry="{int(entry.pk)}" '
        f'data-url="{escape(entry.get_absolute_url())}"></template>'
    )


def feed_recipient_ids(entry) -> list[int]:
    """The members whose home feed shows `entry`: its author's friends and
    friends of friends whom its audience lets see it (Entry.objects.visible_to
    seen from the author's side), in one query. Not the author; no one hidden
    from the author by a block; no one at all while the author is inactive.
    tests/diary/test_live.py holds this to visible_to for every member."""
    author = entry.author
    if not author.is_active or entry.audience == Audience.ONLY_ME:
        return []
    reach = Q(pk__in=friend_ids(author))
    if entry.audience in (Audience.FRIENDS_OF_FRIENDS, Audience.MEMBERS):
        # Friendships are stored both ways: the friends of my friends are the
        # members of whom I am a friend of a friend.
        reach |= Q(pk__in=friend_of_friend_ids(author))
    return list(
        Member.objects.filter(reach, is_active=True)
        .exclude(pk=author.pk)
        .exclude(pk__in=Block.objects.hidden_ids_for(author))
        .values_list("pk", flat=True)
    )
