"""Who may see, change and comment on a diary entry. The entry page, its
writes and the live socket's entry stream all go through these functions, so
a page and its live updates cannot disagree.

Everything reads through Entry.objects.visible_to (accounts/audience.py): an
entry the audience or a block keeps from the viewer answers exactly as an id
that does not exist does (404), never "forbidden".
"""

from django.http import Http404
from django.utils.translation import gettext as _

from accounts.actions import ActionRefused
from diary.models import Comment, Entry, entry_visible_q
from project.socket_auth import visible_to_many


class NotAuthor(ActionRefused):
    """The member may see the entry but not change it (answered 403)."""


def _entry_id(value) -> int:
    """An entry id from a URL or a socket's query; anything else is "not
    found", as an id that does not exist is."""
    try:
        entry_id = int(value)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 0 < entry_id < 2**63:
        raise Http404
    return entry_id


def access_entry(member, entry_id) -> Entry:
    """The entry (with its author) if `member` may see it, else Http404."""
    if not member.is_authenticated:
        raise Http404
    entry = (
        Entry.objects.visible_to(member)
        .select_related("author")
        .filter(pk=_entry_id(entry_id))
        .first()
    )
    if entry is None:
        raise Http404
    return entry


def access_own_entry(member, entry_id) -> Entry:
    """An entry `member` wrote (to edit or delete it). Someone who may see it
    but did not write it is refused (403); anyone else gets 404."""
    entry = access_entry(member, entry_id)
    if entry.author_id != member.pk:
        raise NotAuthor(_("Only the author can change this diary entry."))
    return entry


def access_deletable_comment(member, comment_id) -> Comment:
    """A comment the member may delete: their own, or any comment on an
    entry they wrote; it must be one they may see (404 otherwise)."""
    if not member.is_authenticated:
        raise Http404
    comment = (
        Comment.objects.visible_to(member)
        .select_related("entry")
        .filter(pk=_entry_id(comment_id))
        .first()
    )
    if comment is None:
        raise Http404
    if member.pk not in (comment.author_id, comment.entry.author_id):
        raise NotAuthor(_("You can only delete your own comments."))
    return comment


def wanted_entries(entry_ids) -> list[int]:
    """The entry ids a socket asks for, each once, in the order asked;
    Http404 for one that is not an id."""
    return list(dict.fromkeys(_entry_id(entry_id) for entry_id in entry_ids))


def access_entries_of_many(asked: dict) -> dict:
    """For the live sockets opening together (chat/consumers.py): `asked` maps
    a key to (a member or a SocketMember, entry ids from wanted_entries); the
    answer maps each key to those ids, or to Http404 if its member may not see
    one of them. One query for all (project/socket_auth.visible_to_many, with
    entry_visible_q: the very rule of Entry.objects.visible_to)."""
    return visible_to_many(Entry, entry_visible_q, asked)
