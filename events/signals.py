"""Answers of members who can no longer see an event are taken back
(events.actions.forget_unseen_answers), whatever took the event from them:
leaving or a ban (a Membership saved, deleted or updated out of "active"), a
block between a member and an organiser, a deactivation. Connected by
EventsConfig.ready."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Block, Member
from accounts.signals import access_narrowed
from communities.models import Membership


def _forget(member_ids) -> None:
    from events.actions import forget_unseen_answers

    forget_unseen_answers(member_ids)


@receiver(post_save, sender=Membership)
def _membership_saved(sender, instance, created, **kwargs):
    if not created and instance.status != Membership.Status.ACTIVE:
        _forget([instance.member_id])


@receiver(post_delete, sender=Membership)
def _membership_deleted(sender, instance, **kwargs):
    _forget([instance.member_id])


@receiver(post_save, sender=Block)
def _blocked(sender, instance, created, **kwargs):
    _forget([instance.blocker_id, instance.blocked_id])


@receiver(post_save, sender=Member)
def _member_saved(sender, instance, created, **kwargs):
    if not created and not instance.is_active:
        _forget([instance.pk])


@receiver(access_narrowed)
def _narrowed_by_update(sender, member_ids, fields=frozenset(), **kwargs):
    if sender is Membership or (sender is Member and "is_active" in fields):
        _forget(member_ids)
