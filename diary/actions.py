"""Writes on diaries: entries, comments, likes.

Each action checks its preconditions (the caller has already passed
diary.access: the member may see the entry, or wrote it), writes in one
transaction, and pushes after commit through diary/live.py: persist first,
then broadcast. A refusal is ActionRefused with a message for the member.

Narrowing an entry's audience or deleting it is caught on the row itself by
project/revocation.py, whatever wrote it: every socket showing the entry is
authorized again.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy

from accounts.actions import ActionRefused, RateLimited
from accounts.audience import Audience
from diary import live
from diary.models import Comment, Entry, Like
from photos import actions as photo_actions
from presence import notifications
from project.ratelimit import Budget

TITLE_MAX = Entry._meta.get_field("title").max_length
BODY_MAX = 10_000
COMMENT_MAX = 2000
# The photos app's cap on an entry's photos, said here too before any is decoded.
MAX_PHOTOS = photo_actions.MAX_PER_ENTRY
# Comments are pushed to every open copy of the entry, and likes too: each has
# a budget per member (across entries, tabs and processes).
COMMENTS = Budget("diary-comments", limit=10, per=60)
LIKES = Budget("diary-likes", limit=30, per=60)
COMMENTING_TOO_FAST = ngettext_lazy(
    "You are commenting too fast. Try again in %(seconds)d second.",
    "You are commenting too fast. Try again in %(seconds)d seconds.",
    "seconds",
)
LIKING_TOO_FAST = ngettext_lazy(
    "You are liking too fast. Try again in %(seconds)d second.",
    "You are liking too fast. Try again in %(seconds)d seconds.",
    "seconds",
)


def _clean_text(value: str, *, max_length: int, empty: str, too_long: str) -> str:
    # Browsers submit a textarea's line breaks as CRLF, while its maxlength
    # counts each as one character: count (and store) them as "\n".
    value = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not value:
        raise ActionRefused(empty)
    if len(value) > max_length:
        raise ActionRefused(too_long % {"max": max_length, "n": len(value)})
    return value


def _clean_entry(title: str, body: str, audience: str) -> tuple[str, str, str]:
    title = _clean_text(
        title,
        max_length=TITLE_MAX,
        empty=_("Give your diary entry a title."),
        too_long=_("A title has at most %(max)d characters (this one has %(n)d)."),
    )
    body = _clean_text(
        body,
        max_length=BODY_MAX,
        empty=_("Write something first."),
        too_long=_(
            "A diary entry has at most %(max)d characters (this one has %(n)d)."
        ),
    )
    if audience not in Audience.values:
        raise ActionRefused(_("Choose who can see this."))
    return title, body, audience


def create_entry(*, author, title: str, body: str, audience: str, photos=()) -> Entry:
    """Write a diary entry, with up to MAX_PHOTOS photos saved in the same
    transaction (a refused photo leaves no entry behind). After commit, the
    members whose home feed shows it get a "new entries" notice."""
    title, body, audience = _clean_entry(title, body, audience)
    photos = list(photos or ())
    if len(photos) > MAX_PHOTOS:
        raise ActionRefused(
            _("A diary entry has at most %(max)d photos.") % {"max": MAX_PHOTOS}
        )
    now = timezone.now()
    with transaction.atomic():
        entry = Entry.objects.create(
            author=author,
            title=title,
            body=body,
            audience=audience,
            created_at=now,
            updated_at=now,
        )
        if photos:
            _attach_photos(author, photos, entry)
        transaction.on_commit(lambda: live.publish_new_entry(entry))
    return entry


def _attach_photos(author, files, entry) -> None:
    try:
        photo_actions.add_photos(author, files, entry=entry)
    except (photo_actions.ActionRefused, photo_actions.ImageRejected) as exc:
        raise ActionRefused(str(exc)) from exc


def edit_entry(*, entry: Entry, title: str, body: str, audience: str) -> Entry:
    """Change an entry's title, body and audience. A narrower audience makes
    every socket showing the entry authorize again (project/revocation.py,
    on the row's save)."""
    title, body, audience = _clean_entry(title, body, audience)
    entry.title, entry.body, entry.audience = title, body, audience
    entry.updated_at = timezone.now()
    with transaction.atomic():
        entry.save(update_fields=["title", "body", "audience", "updated_at"])
    return entry


def delete_entry(*, entry: Entry) -> None:
    """Delete an entry with its comments and likes; sockets showing it are
    authorized again, and refused (project/revocation.py)."""
    with transaction.atomic():
        entry.delete()


def add_comment(*, author, entry: Entry, body: str) -> Comment:
    """Comment on an entry the author may see (diary.access.access_entry).
    After commit the comment goes live to every socket showing the entry
    (but those of members hidden from its author by a block) and a notice
    to the entry's author."""
    body = _clean_text(
        body,
        max_length=COMMENT_MAX,
        empty=_("Write a comment first."),
        too_long=_("A comment has at most %(max)d characters (this one has %(n)d)."),
    )
    COMMENTS.spend(author.pk, COMMENTING_TOO_FAST, RateLimited)
    with transaction.atomic():
        # Under the entry's row lock, so an entry's comment ids are in commit
        # order: a catch-up that read past an id never misses a smaller one
        # committed after it (the page's cursor, static/js/diary.js).
        list(Entry.objects.select_for_update().filter(pk=entry.pk).values("pk"))
        comment = Comment.objects.create(entry=entry, author=author, body=body)
        notifications.notify(
            entry.author_id, "diary_comment", actor_id=author.pk, target_id=comment.pk
        )
        comment.entry = entry
        comment.author = author
        transaction.on_commit(lambda: live.publish_comment(comment))
    return comment


def delete_comment(*, comment: Comment) -> None:
    """Delete a comment (diary.access.access_deletable_comment); every open
    copy of the entry drops it."""
    with transaction.atomic():
        comment_id = comment.pk
        comment.delete()
        comment.pk = comment_id
        transaction.on_commit(lambda: live.publish_comment_deleted(comment))


def toggle_like(*, member, entry: Entry) -> bool:
    """Like the entry, or take the like back; True when it is now liked.
    After commit every open copy shows the new count, and a new like reaches
    the entry's author."""
    LIKES.spend(member.pk, LIKING_TOO_FAST, RateLimited)
    with transaction.atomic():
        deleted, _rows = Like.objects.filter(entry=entry, member=member).delete()
        liked = not deleted
        if liked:
            try:
                with transaction.atomic():
                    Like.objects.create(entry=entry, member=member)
            except IntegrityError:
                # Another tab liked it at the same instant: liked either way.
                return True
            notifications.notify(
                entry.author_id, "diary_like", actor_id=member.pk, target_id=entry.pk
            )
        transaction.on_commit(
            lambda: live.publish_like(entry, member_id=member.pk, liked=liked)
        )
    return liked
