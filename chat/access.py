"""Who may read and write a topic. The topic page, its fragments, every write
and the live consumer's subscription all go through access_topic."""

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from chat.models import Message
from communities.access import AccessDenied, Forbidden, membership_of
from communities.models import Community, Membership, Topic


def _topic_id(value) -> int:
    """A topic id from a URL or a socket's query; anything else is "not
    found", as an id that does not exist is."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AccessDenied from None


def access_topic(member, topic_id) -> tuple[Topic, Membership]:
    """The topic and the member's active membership, or AccessDenied (404).

    Reading a topic takes an active membership of its community: strangers,
    people who asked to join, invitees and banned members get "not found"."""
    if not member.is_authenticated:
        raise AccessDenied
    topic_id = _topic_id(topic_id)
    membership = (
        Membership.objects.filter(
            member=member,
            status=Membership.Status.ACTIVE,
            community__topics__pk=topic_id,
        )
        .select_related("community")
        .first()
    )
    if membership is None:
        raise AccessDenied
    topic = Topic.objects.select_related("community").get(pk=topic_id)
    return topic, membership


def wanted_topics(topic_ids) -> list[int]:
    """The topic ids asked for, each once, in the order asked; AccessDenied
    (404) for one that is not an id."""
    return list(dict.fromkeys(_topic_id(topic_id) for topic_id in topic_ids))


def _readable_topic_pairs(member_ids, topic_ids) -> set[tuple[int, int]]:
    """(member id, topic id) for each of these topics each of these members
    may read: access_topic's rule for many members and topics in one query."""
    if not member_ids or not topic_ids:
        return set()
    # One filter() call: the same membership row must be the member's and
    # active, as in access_topic.
    return set(
        Topic.objects.filter(
            pk__in=topic_ids,
            community__memberships__member__in=member_ids,
            community__memberships__status=Membership.Status.ACTIVE,
        ).values_list("community__memberships__member", "pk")
    )


def access_topics_of_many(asked: dict) -> dict:
    """access_topics for many at once (the live sockets opening at the same
    moment, project/socket_auth.py), in one query for all: `asked` maps a key
    to (member id, topic ids from wanted_topics); the answer maps the same key
    to those ids, or to AccessDenied if the member may not read one of them."""
    readable = _readable_topic_pairs(
        {member_id for member_id, _ in asked.values()},
        {topic for _, topics in asked.values() for topic in topics},
    )
    return {
        key: (
            topics
            if all((member_id, topic) in readable for topic in topics)
            else AccessDenied()
        )
        for key, (member_id, topics) in asked.items()
    }


def access_topics(member, topic_ids) -> list[int]:
    """access_topic for several topics in one query: their ids, each once, in
    the order asked, or AccessDenied (404) if the member may not read any one
    of them (the live socket's streams)."""
    if not member.is_authenticated:
        raise AccessDenied
    wanted = wanted_topics(topic_ids)
    if not wanted:
        return []
    found = access_topics_of_many({member.pk: (member.pk, wanted)})[member.pk]
    if isinstance(found, AccessDenied):
        raise found
    return found


def community_to_join(member, topic_id) -> tuple[Community, Membership | None]:
    """For a member access_topic refused: the topic's community, when they may
    see it and ask to come in (an open or approval community they are not
    banned from), so a link to the topic shows them the way in.

    Anything else is AccessDenied, which answers exactly as a topic id that
    does not exist does: a secret community's topics stay unknown, and a
    banned member learns nothing new."""
    if not member.is_authenticated:
        raise AccessDenied
    topic_id = _topic_id(topic_id)
    topic = Topic.objects.select_related("community").filter(pk=topic_id).first()
    if topic is None or topic.community.is_secret:
        raise AccessDenied
    membership = membership_of(member, topic.community)
    if membership is not None and membership.status == Membership.Status.BANNED:
        raise AccessDenied
    return topic.community, membership


def require_can_post(membership: Membership) -> None:
    if membership.is_muted(timezone.now()):
        raise Forbidden(_("You are muted in this community for now."))


def _message_and_membership(member, message_id) -> tuple[Message, Membership]:
    """A message in a topic the member can read (404 otherwise)."""
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        raise Http404
    _topic, membership = access_topic(member, message.topic_id)
    return message, membership


def access_message(member, message_id) -> tuple[Message, Membership]:
    """A message in a topic the member can read, not hidden from them by a block."""
    message, membership = _message_and_membership(member, message_id)
    if not Message.objects.filter(pk=message.pk).visible_to(member).exists():
        raise Http404
    return message, membership


def access_editable_message(member, message_id) -> tuple[Message, Membership]:
    """A message the member wrote and may still change: an edit is new text,
    so a muted member may not make one."""
    message, membership = _message_and_membership(member, message_id)
    if message.author_id != member.pk:
        raise Forbidden(_("You can only change your own messages."))
    require_can_post(membership)
    return message, membership


def access_deletable_message(member, message_id) -> tuple[Message, Membership]:
    """A message the member wrote, or any message when they moderate the
    community."""
    message, membership = _message_and_membership(member, message_id)
    if message.author_id != member.pk and not membership.is_moderator:
        raise Forbidden(_("You can only delete your own messages."))
    return message, membership


def unread_topics_of(member, limit: int) -> list[Topic]:
    """Topics of the member's communities (active membership) with messages
    they have not read (Topic.with_unread_for: not their own, not from
    members hidden from them by a block), most recent first, with their
    community: one query (the home page)."""
    return list(
        Topic.objects.filter(
            community__memberships__member=member,
            community__memberships__status=Membership.Status.ACTIVE,
        )
        .with_unread_for(member)
        .filter(unread__gt=0)
        .select_related("community")
        .order_by("-last_message_at", "-pk")[:limit]
    )
