"""The one revocation path: when what a member may see narrows, their open
sockets lose it within a second, on every process.

Channels fixes a socket's member, session and streams when it connects and
never looks again. So every change that can narrow what a member may see goes
through `reauthorize_sockets`: after the change commits, every open socket of
the affected members stops forwarding at once and closes with 4408; the page
reconnects and the socket's ordinary connect path (chat/consumers.py)
authorizes it from scratch: the session still exists and still matches the
password, the member is still active, each requested topic is still readable,
and the set of members hidden by blocks is loaded anew. What the socket may no
longer have, it does not get back; what it still may, the page catches up on.

The causes are caught where they are written, on the rows themselves, rather
than in the views and actions that usually make them: a logout from any view,
the admin, a shell or a later feature narrow access through the same rows,
and none of them can forget to call this. Each receiver below names its
cause. QuerySet.update() sends no model signals, so the querysets of these
models report narrowing updates through `accounts.signals.access_narrowed`.
"""

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts.audience import Audience
from accounts.models import Block, Friendship, Member
from accounts.signals import access_narrowed
from chat import broadcast
from communities.models import Membership
from diary.models import Entry
from diary.signals import entries_narrowed
from events.models import Event


def reauthorize_sockets(member_ids: Iterable[int | None]) -> None:
    """Once the current transaction commits (at once outside one), make every
    open socket of these members close with 4408 and authorize again."""
    ids = sorted({int(pk) for pk in member_ids if pk is not None})
    if ids:
        transaction.on_commit(lambda: broadcast.recheck_member_sockets(ids))


# --- Causes ------------------------------------------------------------------


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    # Every key the session ever had is gone with it, and a password change
    # renews the key: the sockets opened under any of them reconnect and are
    # refused (4401). The member's other sessions reconnect and stay.
    if user is not None:
        reauthorize_sockets([user.pk])


@receiver(access_narrowed)
def _narrowed_by_update(sender, member_ids, fields=frozenset(), **kwargs):
    reauthorize_sockets(member_ids)
    if sender is Member and "is_active" in fields:
        # As _author_deactivated below, for a deactivation by update().
        _reauthorize_authors_entries(member_ids)


def _stored(instance, fields: tuple[str, ...], update_fields) -> dict | None:
    """The row's stored values of `fields` before this save, when the save may
    change one of them (None for a new row or an unrelated partial save)."""
    if instance._state.adding or instance.pk is None:
        return None
    if update_fields is not None and not set(update_fields) & set(fields):
        return None
    manager = type(instance)._base_manager
    return manager.filter(pk=instance.pk).values(*fields).first()


@receiver(pre_save, sender=Member)
def _member_saving(sender, instance, update_fields=None, **kwargs):
    # Deactivation ends every session; so does a new password, for every
    # session but the one that changed it (Django keeps that one's hash).
    # (Setting the first password of a new member, as creating one in two
    # saves does, ends nothing.) A change of shows_presence narrows not what
    # the member sees but what others see of them: "Who's here"
    # (presence/here.py) reads the setting when a socket opens, so their
    # sockets reconnect, which takes them off every list at once (or puts
    # them on). One read of the stored row serves all three; a field the
    # save does not write is not compared.
    old = _stored(instance, ("is_active", "password", "shows_presence"), update_fields)
    if old is None:
        instance._narrows_access = instance._deactivated = False
        return
    if update_fields is not None:
        old = {field: old[field] for field in update_fields if field in old}
    instance._deactivated = old.get("is_active", False) and not instance.is_active
    new_password = "password" in old and (
        is_password_usable(old["password"]) and old["password"] != instance.password
    )
    instance._narrows_access = (
        instance._deactivated
        or new_password
        or old.get("shows_presence", instance.shows_presence) != instance.shows_presence
    )


@receiver(post_delete, sender=Member)
def _member_deleted(sender, instance, **kwargs):
    reauthorize_sockets([instance.pk])


_ROLE_RANK = {
    Membership.Role.MEMBER: 0,
    Membership.Role.MODERATOR: 1,
    Membership.Role.OWNER: 2,
}


@receiver(pre_save, sender=Membership)
def _membership_saving(sender, instance, update_fields=None, **kwargs):
    # A ban (or any other way out of "active") and a lower role narrow; an
    # activation or a promotion only widens, and open sockets are left alone.
    old = _stored(instance, ("status", "role"), update_fields)
    instance._narrows_access = (
        old is not None
        and old["status"] == Membership.Status.ACTIVE
        and (
            instance.status != Membership.Status.ACTIVE
            or _ROLE_RANK.get(instance.role, 0) < _ROLE_RANK.get(old["role"], 0)
        )
    )


@receiver(post_save, sender=Member)
@receiver(post_save, sender=Membership)
def _saved(sender, instance, **kwargs):
    # What the pre_save receivers above found; acted on once the row is
    # written (on_commit), never before.
    if instance.__dict__.pop("_narrows_access", False):
        member_id = instance.pk if sender is Member else instance.member_id
        reauthorize_sockets([member_id])


@receiver(post_delete, sender=Membership)
def _membership_deleted(sender, instance, **kwargs):
    # Leaving, or being removed (a deleted community deletes its memberships).
    if instance.status == Membership.Status.ACTIVE:
        reauthorize_sockets([instance.member_id])


@receiver(post_save, sender=Block)
@receiver(post_delete, sender=Block)
def _block_changed(sender, instance, **kwargs):
    # A block hides both members from each other, both ways; each socket's set
    # of hidden authors is loaded when it connects. An unblock reloads it too.
    reauthorize_sockets([instance.blocker_id, instance.blocked_id])


@receiver(post_delete, sender=Friendship)
def _friendship_ended(sender, instance, **kwargs):
    # What friends see of each other stops with the friendship. An unfriending
    # deletes both rows, a block deletes them too (accounts/actions.py): each
    # row names both members, so both members' sockets are reached either way.
    reauthorize_sockets([instance.member_id, instance.friend_id])


# FriendRequest rows need no receiver: sending, declining, withdrawing or
# accepting a request narrows nothing anyone may see (accepting only widens,
# through the Friendship rows it makes). The recipient's badge is pushed by
# accounts.friends.push_request_badge. Nor does a member narrowing who sees
# their self-introduction or friend list: nothing live shows either.


# --- Diary entries -------------------------------------------------------------
# An entry's page streams its comments and likes to every socket showing it
# (chat/consumers.py joins `entry.<id>.<lang>` before authorizing it). When who
# may see the entry narrows, those sockets are closed with 4408 to be
# authorized again: the viewers who may still see it come back, the others are
# refused. The causes that narrow it for their own members only (a block, a
# logout) reach the members' own groups above.

# Wider first: an audience narrows when it moves down this list.
_AUDIENCE_RANK = {
    Audience.MEMBERS: 3,
    Audience.FRIENDS_OF_FRIENDS: 2,
    Audience.FRIENDS: 1,
    Audience.ONLY_ME: 0,
}


def _reauthorize_stream_sockets(recheck, ids: Iterable[int | None]) -> None:
    """Once the current transaction commits (at once outside one), `recheck`
    (a broadcast.recheck_*_sockets) the sockets showing these pages, in every
    language."""
    ids = sorted({int(pk) for pk in ids if pk is not None})
    if ids:
        languages = [code for code, _name in settings.LANGUAGES]
        transaction.on_commit(lambda: recheck(ids, languages))


def reauthorize_entry_sockets(entry_ids: Iterable[int | None]) -> None:
    """Once the current transaction commits (at once outside one), make every
    open socket showing these entries close with 4408 and authorize again."""
    _reauthorize_stream_sockets(broadcast.recheck_entry_sockets, entry_ids)


@receiver(pre_save, sender=Entry)
def _entry_saving(sender, instance, update_fields=None, **kwargs):
    old = _stored(instance, ("audience",), update_fields)
    instance._narrows_access = old is not None and _AUDIENCE_RANK.get(
        instance.audience, 0
    ) < _AUDIENCE_RANK.get(old["audience"], 0)


@receiver(post_save, sender=Entry)
def _entry_saved(sender, instance, **kwargs):
    if instance.__dict__.pop("_narrows_access", False):
        reauthorize_entry_sockets([instance.pk])


@receiver(post_delete, sender=Entry)
def _entry_deleted(sender, instance, **kwargs):
    # Its sockets come back to a "not found" and are refused (4403).
    reauthorize_entry_sockets([instance.pk])


@receiver(entries_narrowed)
def _entries_narrowed_by_update(sender, entry_ids, **kwargs):
    reauthorize_entry_sockets(entry_ids)


@receiver(post_delete, sender=Friendship)
def _friendship_ended_for_entries(sender, instance, **kwargs):
    # Friends of friends see through the friendship too: anyone watching an
    # entry of either member for friends (of friends) may have lost it, not
    # only the two.
    reauthorize_entry_sockets(
        Entry.objects.filter(
            author__in=[instance.member_id, instance.friend_id],
            audience__in=[Audience.FRIENDS, Audience.FRIENDS_OF_FRIENDS],
        ).values_list("pk", flat=True)
    )


@receiver(post_save, sender=Member)
def _author_deactivated(sender, instance, **kwargs):
    # An inactive member's things are seen by no one: everyone watching their
    # entries is authorized again (their own sockets close above; _deactivated
    # is found by _member_saving).
    if instance.__dict__.pop("_deactivated", False):
        _reauthorize_authors_entries([instance.pk])


def _reauthorize_authors_entries(member_ids: Iterable[int]) -> None:
    reauthorize_entry_sockets(
        Entry.objects.filter(author__in=list(member_ids)).values_list("pk", flat=True)
    )


# --- Events --------------------------------------------------------------------
# An event's page streams its counts and attendees to every socket showing it
# (chat/consumers.py joins `event.<id>.<lang>` before authorizing it). Who may
# see an event (events/access.py) narrows through rows caught above for the
# member's own sockets: a membership left, banned or deleted (a deleted
# community deletes its memberships), a block with the organiser either way.
# What remains is the event itself going: its sockets, whoever's, come back to
# a "not found" and are refused (4403).


def reauthorize_event_sockets(event_ids: Iterable[int | None]) -> None:
    """Once the current transaction commits (at once outside one), make every
    open socket showing these events close with 4408 and authorize again."""
    _reauthorize_stream_sockets(broadcast.recheck_event_sockets, event_ids)


@receiver(post_delete, sender=Event)
def _event_deleted(sender, instance, **kwargs):
    reauthorize_event_sockets([instance.pk])
