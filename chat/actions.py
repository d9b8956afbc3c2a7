"""Writes in topics: send, edit, delete, like, read.

Each action checks its preconditions (the caller has already passed
chat.access), writes in one transaction, and broadcasts after commit: persist
first, then broadcast. Fragments are rendered once per language on commit.
"""

import json
import math
from contextlib import nullcontext
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy

from accounts.models import Block, Member
from chat import access, broadcast, fragments, text
from chat.models import Like, Mention, Message, MessagePhoto
from communities.access import Forbidden, NotAllowed, RateLimited
from communities.models import Community, Membership, Topic, TopicRead
from moderation import filters
from photos import actions as photo_files
from photos.images import ImageRejected, process_photo
from presence import notifications
from project.ratelimit import UNCOUNTED, Budget

MAX_LENGTH = 4000
MAX_CLIENT_ID = 64
# Each send and each edit is new text pushed to every listener of the topic:
# they share one budget per member (across topics, tabs and processes). Likes
# are pushed too, and have a budget of their own.
RATE_LIMIT = 10
LIKE_LIMIT = 20
RATE_WINDOW = 10  # seconds
WRITES = Budget("chat-writes", limit=RATE_LIMIT, per=RATE_WINDOW)
LIKES = Budget("chat-likes", limit=LIKE_LIMIT, per=RATE_WINDOW)
# Photos in one message (LINE's grid shows four).
MAX_PHOTOS = 4
# Each photo is decoded and re-encoded before the send is saved (the same
# pipeline as diary photos, photos/images.py): sends with photos have a
# budget of their own, on top of WRITES, so one member cannot keep the decode
# threads busy.
PHOTO_SENDS = Budget("chat-photo-sends", limit=10, per=60)
SENDING_TOO_FAST = ngettext_lazy(
    "You are sending messages too fast. Try again in %(seconds)d second.",
    "You are sending messages too fast. Try again in %(seconds)d seconds.",
    "seconds",
)
EDITING_TOO_FAST = ngettext_lazy(
    "You are changing messages too fast. Try again in %(seconds)d second.",
    "You are changing messages too fast. Try again in %(seconds)d seconds.",
    "seconds",
)
SENDING_PHOTOS_TOO_FAST = ngettext_lazy(
    "You are sending photos too fast. Try again in %(seconds)d second.",
    "You are sending photos too fast. Try again in %(seconds)d seconds.",
    "seconds",
)
LIKING_TOO_FAST = ngettext_lazy(
    "You are liking too fast. Try again in %(seconds)d second.",
    "You are liking too fast. Try again in %(seconds)d seconds.",
    "seconds",
)


def clean_body(body: str, *, may_be_empty: bool = False) -> str:
    """The text as stored; `may_be_empty` for a message that has photos."""
    # Browsers submit a textarea's line breaks as CRLF, while its maxlength
    # counts each as one character: count (and store) them as "\n".
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body and not may_be_empty:
        raise NotAllowed(_("Write a message first."))
    if len(body) > MAX_LENGTH:
        raise NotAllowed(
            _("A message has at most %(max)d characters (this one has %(n)d).")
            % {"max": MAX_LENGTH, "n": len(body)}
        )
    return body


def _render_body(body: str, *, author: Member, topic: Topic) -> tuple[str, list]:
    """The body's HTML and the members it mentions: only active members of the
    topic's community not hidden from the author by a block, so a mention
    (and, later, its notification) never reaches anyone who cannot read it."""
    keys = text.mentioned_keys(body)
    candidates = []
    if keys:
        candidates = list(
            Member.objects.filter(
                nickname_key__in=keys,
                is_active=True,
                memberships__community_id=topic.community_id,
                memberships__status=Membership.Status.ACTIVE,
            ).exclude(pk__in=Block.objects.hidden_ids_for(author))
        )
    return text.render_with_mentions(body, candidates)


def broadcast_message(
    message: Message, partial: str = "message-append", *, prev_id: int | None = None
) -> None:
    message = fragments.with_relations(message)
    frames = fragments.render_per_language(
        partial, {**fragments.message_context(message), "prev_id": prev_id}
    )
    author_ids = (message.author_id,)
    if message.reply_to is not None:
        author_ids += (message.reply_to.author_id,)
    broadcast.send_topic_frames(message.topic_id, frames, author_ids=author_ids)


def send_message(
    *,
    author: Member,
    topic: Topic,
    membership: Membership,
    body: str,
    client_id: str,
    reply_to_id: int | None = None,
    approved: bool = False,
    photos=(),
) -> tuple[Message, bool]:
    """Save a message and broadcast it to `topic.<id>` after commit.

    A new message carries `prev_id`, the id of the topic's message right
    before it (0 for the first).

    Preconditions: `membership` is the author's active membership of the
    topic's community (chat.access.access_topic). Refused when muted, empty,
    too long, when the topic is locked or its slow mode says wait (a
    RateLimited with `retry_after` seconds), or past the WRITES budget (sends
    and edits), or by the community's filters (moderation.filters); a
    message a filter holds is kept for the moderators and refused as
    HeldForReview. `approved`: a held message a moderator approved
    (moderation.held), past the filters and the budget it already passed.
    A second send with the same client_id returns the first message
    (created=False), broadcasts nothing new and costs no budget.

    `photos` (uploaded files, at most MAX_PHOTOS; with photos the text may be
    empty) go through the diary photos' pipeline (photos/images.py) before
    anything is saved: one refused file refuses the send, naming it, and
    nothing is stored. The message and its photos are saved in one
    transaction; the files are written once it commits, then the message is
    broadcast, photos and all, in one frame. A resend stores no file again.
    A message a filter holds is held as text: its photos are not kept.
    """
    access.require_can_post(membership)
    photos = list(photos)
    if len(photos) > MAX_PHOTOS:
        raise NotAllowed(
            ngettext(
                "A message has at most %(max)d photo (this one has %(n)d).",
                "A message has at most %(max)d photos (this one has %(n)d).",
                MAX_PHOTOS,
            )
            % {"max": MAX_PHOTOS, "n": len(photos)}
        )
    body = clean_body(body, may_be_empty=bool(photos))
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > MAX_CLIENT_ID:
        raise NotAllowed(_("This form is out of date. Reload the page and try again."))
    existing = Message.objects.filter(author=author, client_id=client_id).first()
    if existing is not None:
        if existing.topic_id != topic.pk:
            # A resend belongs to the topic it was written in; an id from
            # elsewhere is a stale or forged form, never a way to read back a
            # message from a topic one may have left.
            raise NotAllowed(
                _("This form is out of date. Reload the page and try again.")
            )
        return existing, False
    _require_topic_open(topic, author=author, membership=membership)
    reply_to = None
    if reply_to_id:
        # Only a message the author can see: a guessed id of one hidden by a
        # block would otherwise come back quoted in the answer.
        reply_to = (
            Message.objects.filter(pk=reply_to_id, topic=topic, deleted_at__isnull=True)
            .visible_to(author)
            .select_related("author")
            .first()
        )
    body_html, mentioned = _render_body(body, author=author, topic=topic)
    if approved:
        counted = UNCOUNTED
    else:
        counted = WRITES.spend(author.pk, SENDING_TOO_FAST, RateLimited)
        if filters.check_message(topic.community, author, body) == filters.HOLD:
            filters.hold_message(
                topic=topic,
                author=author,
                body=body,
                client_id=client_id,
                reply_to_id=reply_to.pk if reply_to else None,
            )
            raise filters.HeldForReview()
    processed = _process_photos(photos, author=author, counted=counted)
    now = timezone.now()
    message = Message(
        topic=topic,
        author=author,
        body=body,
        body_html=body_html,
        client_id=client_id,
        reply_to=reply_to,
        created_at=now,
    )
    try:
        # With photos, one transaction for the message and their rows (a
        # plain message stays one statement: _save_in_order).
        with transaction.atomic() if processed else nullcontext():
            prev_id = _save_in_order(message, mentioned, now)
            if processed:
                _save_photos(message, processed)
            transaction.on_commit(lambda: broadcast_message(message, prev_id=prev_id))
    except IntegrityError:
        # The same client_id raced in from another tab: the first one won,
        # and this resend costs nothing.
        WRITES.give_back(counted)
        existing = Message.objects.filter(
            author=author, client_id=client_id, topic=topic
        ).first()
        if existing is None:
            raise
        return existing, False
    _notify_mentions(message, mentioned)
    # After the topic's lock is let go: every send of the topic waits for it,
    # and neither of these is part of what the lock orders (make faults:
    # held through them, the lock queued a busy process's sends for a second,
    # each holding a pooled connection the rest of the process then lacked).
    Community.objects.filter(pk=topic.community_id).update(last_activity_at=now)
    _read_up_to(member=author, topic=topic, last_id=message.pk)
    return message, True


def _process_photos(photos, *, author: Member, counted: str) -> list:
    """Each file checked and re-encoded (photos/images.py), or the send
    refused with the pipeline's reason, naming the file; the send's WRITES
    unit (`counted`) is given back then, the photo budget is not (the
    decoding was done)."""
    if not photos:
        return []
    try:
        PHOTO_SENDS.spend(author.pk, SENDING_PHOTOS_TOO_FAST, RateLimited)
        return [process_photo(file) for file in photos]
    except (ImageRejected, RateLimited) as exc:
        WRITES.give_back(counted)
        if isinstance(exc, RateLimited):
            raise
        raise NotAllowed(str(exc)) from exc


def _save_photos(message: Message, processed: list) -> None:
    """The photos' rows, in the caller's transaction (the message's); their
    files are written when it commits, before the broadcast (registered
    first), by the diary photos' writer. Should a file fail to be written,
    the message goes with its photos: a retry with its client id sends it
    anew."""
    rows = []
    pending = []
    for position, result in enumerate(processed, start=1):
        thumbnail, display = photo_files.new_name(), photo_files.new_name()
        rows.append(
            MessagePhoto(
                message=message,
                position=position,
                thumbnail=thumbnail,
                display=display,
                width=result.width,
                height=result.height,
            )
        )
        pending += [(thumbnail, result.thumbnail), (display, result.display)]
    MessagePhoto.objects.bulk_create(rows)
    # The fragment shows them without asking the database again.
    message._prefetched_objects_cache = {"photos": MessagePhoto.objects.none()}
    message._prefetched_objects_cache["photos"]._result_cache = rows
    message_id = message.pk
    transaction.on_commit(
        lambda: photo_files.write_files(
            pending, undo=Message.objects.filter(pk=message_id).delete
        )
    )


def _require_topic_open(topic: Topic, *, author: Member, membership: Membership):
    """Refuse a message to a locked topic, or one sent sooner than the topic's
    slow mode allows after the author's previous one there (moderators are
    exempt from slow mode). Read from the topic's row as it is now, not as
    the sending page last saw it: a stale page cannot get round either."""
    slow_mode_seconds, locked_at = (
        Topic.objects.filter(pk=topic.pk)
        .values_list("slow_mode_seconds", "locked_at")
        .get()
    )
    if locked_at is not None:
        raise Forbidden(_("This topic is locked: no new messages."))
    if not slow_mode_seconds or membership.is_moderator:
        return
    last = (
        Message.objects.filter(topic=topic, author=author)
        .order_by("-pk")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is None:
        return
    wait = slow_mode_seconds - (timezone.now() - last).total_seconds()
    if wait > 0:
        seconds = math.ceil(wait)
        refused = RateLimited(
            ngettext(
                "Slow mode is on: you can send your next message in %(n)d second.",
                "Slow mode is on: you can send your next message in %(n)d seconds.",
                seconds,
            )
            % {"n": seconds}
        )
        refused.retry_after = seconds
        raise refused


def _notify_mentions(message: Message, mentioned, already=frozenset()) -> None:
    """Tell each member newly mentioned (presence/kinds.py: not oneself, not
    across a block, not in a topic they muted)."""
    for member in mentioned:
        if member.pk not in already:
            notifications.notify(
                member.pk, "mention", actor_id=message.author_id, target_id=message.pk
            )


def _json_value(value):
    # Full precision (Django's JSON encoder keeps milliseconds only).
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _save_in_order(message: Message, mentioned, now) -> int:
    """Save a new message and its mentions; return the id of the topic's
    message right before it (0 for the first).

    The topic's row lock first, then the message's id: the sends of one topic
    take their ids in the order they commit, so whoever sees message n also
    sees every message of the topic below n. Catch-up's cursor rests on it,
    and under that lock the topic's newest message is the one right before
    this one, for good: the live frame names it (docs/live-protocol.md, "The
    cursor").

    On PostgreSQL all of it is one statement (chat_send_message, migration
    chat 0003), so the lock is held for no round trip to Python: held across
    four of them, it queued a busy process's sends for a second each (make
    faults: holders "idle in transaction" for half a second, waiting for the
    GIL). Elsewhere (the embedded SQLite, which lets one writer in at a time)
    the same steps in one transaction."""
    if connection.vendor == "postgresql":
        fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
        row = {f.column: f.get_prep_value(f.pre_save(message, True)) for f in fields}
        with (
            transaction.atomic() if connection.in_atomic_block else nullcontext(),
            connection.cursor() as cursor,
        ):
            # Outside a transaction the statement is its own, and the lock is
            # let go as it commits; inside one (a caller's), a savepoint.
            cursor.execute(
                "SELECT message_id, prev_id FROM chat_send_message(%s, %s, %s, %s)",
                [
                    message.topic_id,
                    now,
                    json.dumps(row, default=_json_value),
                    [m.pk for m in mentioned],
                ],
            )
            message.pk, prev_id = cursor.fetchone()
        message._state.adding = False
        message._state.db = connection.alias
        message.prev_id = prev_id
        return prev_id
    with transaction.atomic():
        Topic.objects.filter(pk=message.topic_id).update(
            last_message_at=now, message_count=F("message_count") + 1
        )
        prev_id = (
            Message.objects.filter(topic_id=message.topic_id)
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
        ) or 0
        message.save(force_insert=True)
        Mention.objects.bulk_create(
            [Mention(message=message, member=m) for m in mentioned]
        )
    message.prev_id = prev_id
    return prev_id


def edit_message(*, message: Message, body: str) -> Message:
    """Change the text of one's own message (the caller checked ownership).
    Counts against the same WRITES budget as sending: an edit is new text
    pushed to every listener too."""
    if message.is_deleted:
        raise NotAllowed(_("This message was deleted."))
    # A message with photos may lose its text, as it could be sent without.
    body = clean_body(body, may_be_empty=message.photos.exists())
    body_html, mentioned = _render_body(
        body, author=message.author, topic=message.topic
    )
    WRITES.spend(message.author_id, EDITING_TOO_FAST, RateLimited)
    verdict = filters.check_message(message.topic.community, message.author, body)
    if verdict == filters.HOLD:
        # An edit is not held: the message is already out.
        raise NotAllowed(
            _("This change has a word moderators review first: send it anew.")
        )
    with transaction.atomic():
        already = set(
            Mention.objects.filter(message=message).values_list("member_id", flat=True)
        )
        message.body = body
        message.body_html = body_html
        message.edited_at = message.changed_at = timezone.now()
        message.save(update_fields=["body", "body_html", "edited_at", "changed_at"])
        Mention.objects.filter(message=message).exclude(member__in=mentioned).delete()
        Mention.objects.bulk_create(
            [Mention(message=message, member=m) for m in mentioned],
            ignore_conflicts=True,
        )
        _notify_mentions(message, mentioned, already)
        transaction.on_commit(lambda: broadcast_message(message, "message-replace"))
    return message


def delete_message(*, message: Message) -> Message:
    """Delete a message (its own author, or a moderator: checked by the caller,
    moderation.room.delete_message). The row stays as a tombstone so
    catch-up can tell open tabs; its replies change too (their quote now says
    it was deleted), so they are pushed again and catch-up brings them."""
    if message.is_deleted:
        return message
    with transaction.atomic():
        now = timezone.now()
        message.deleted_at = message.changed_at = now
        message.body = ""
        message.body_html = ""
        message.save(update_fields=["deleted_at", "changed_at", "body", "body_html"])
        Mention.objects.filter(message=message).delete()
        # The tombstone shows no photos; their files go after the commit
        # (photos.actions.remove_files_on_delete, chat/apps.py).
        MessagePhoto.objects.filter(message=message).delete()
        if "photos" in getattr(message, "_prefetched_objects_cache", {}):
            del message._prefetched_objects_cache["photos"]
        replies = Message.objects.filter(reply_to=message, deleted_at__isnull=True)
        reply_ids = list(replies.values_list("pk", flat=True))
        replies.update(changed_at=now)
        transaction.on_commit(lambda: _broadcast_deleted(message, reply_ids))
    return message


def _broadcast_deleted(message: Message, reply_ids: list[int]) -> None:
    broadcast_message(message, "message-replace")
    for reply in Message.objects.for_display().filter(pk__in=reply_ids):
        broadcast_message(reply, "message-replace")


def toggle_like(*, member: Member, message: Message) -> tuple[Message, bool]:
    """Like or unlike (イイネ!) a message; broadcasts the new count. Refused
    past the LIKES budget (each toggle is pushed to every listener)."""
    if message.is_deleted:
        raise NotAllowed(_("This message was deleted."))
    LIKES.spend(member.pk, LIKING_TOO_FAST, RateLimited)
    with transaction.atomic():
        deleted, _n = Like.objects.filter(message=message, member=member).delete()
        if not deleted:
            Like.objects.create(message=message, member=member)
        liked = not deleted
        Message.objects.filter(pk=message.pk).update(
            like_count=F("like_count") + (1 if liked else -1),
            changed_at=timezone.now(),
        )
        message.refresh_from_db(fields=["like_count"])
        transaction.on_commit(lambda: broadcast_message(message, "like-count"))
    return message, liked


def mark_read(*, member: Member, topic: Topic, last_id: int) -> None:
    """Move the member's read position forward (never back)."""
    last_id = min(
        int(last_id),
        topic.messages.order_by("-id").values_list("id", flat=True).first() or 0,
    )
    _read_up_to(member=member, topic=topic, last_id=last_id)


def _read_up_to(*, member: Member, topic: Topic, last_id: int) -> None:
    """Forward only: of two sends racing from two tabs, the later id stays."""
    updated = TopicRead.objects.filter(
        topic=topic, member=member, last_read_id__lt=last_id
    ).update(last_read_id=last_id)
    if not updated:
        TopicRead.objects.get_or_create(
            topic=topic, member=member, defaults={"last_read_id": last_id}
        )
