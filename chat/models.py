from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from communities.models import Topic
from photos.models import StoredPhoto


class MessageQuerySet(models.QuerySet):
    def in_topic(self, topic):
        return self.filter(topic=topic)

    def visible_to(self, member):
        """Messages `member` may see: none by members hidden by a block, and
        no reply quoting one (the live path skips those too: a fragment
        carries its author and the author it quotes), except one's own. Topic
        access itself is checked by chat.access before any query."""
        from accounts.models import Block

        hidden = Block.objects.hidden_ids_for(member)
        return self.exclude(author__in=hidden).exclude(
            # One's own reply stays, its quote masked in the template.
            Q(reply_to__author__in=hidden) & ~Q(author=member)
        )

    def for_display(self):
        # Photos in one query for the whole page (ordered by position).
        return self.select_related("author", "reply_to__author").prefetch_related(
            "photos"
        )


class Message(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    body = models.TextField(max_length=4000)
    # chat.text.render(body): escaped, links and mentions; made once on save.
    body_html = models.TextField(blank=True)
    # Made by the sending page; a resend with the same id is the same message.
    client_id = models.CharField(max_length=64)
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    like_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Last edit, delete or like: catch-up sends open tabs what changed since
    # they last synced (chat.views.message_list).
    changed_at = models.DateTimeField(null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_id"], name="message_client_id_once"
            )
        ]
        indexes = [
            models.Index(fields=["topic", "-id"]),
            models.Index(fields=["author", "-created_at"]),
            models.Index(fields=["topic", "changed_at"]),
        ]

    def __str__(self):
        return f"message {self.pk} in topic {self.topic_id}"

    @property
    def is_deleted(self):
        return self.deleted_at is not None


class MessagePhoto(StoredPhoto, models.Model):
    """A photo sent with a message (at most chat.actions.MAX_PHOTOS), stored
    as diary photos are (photos/images.py: re-encoded, no metadata, a display
    size and a thumbnail under random names), seen by whoever may see its
    message, through chat/photo_views.py only. Never changed after the send;
    deleted, with its files, when its message is deleted or goes."""

    FILE_VIEW = "chat:message-photo"

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="photos"
    )
    # 1, 2, ... in the order the member chose them.
    position = models.PositiveSmallIntegerField()
    thumbnail = models.FileField(upload_to="photos/")
    display = models.FileField(upload_to="photos/")
    # Of the display size.
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "position"], name="message_photo_position_once"
            )
        ]

    def __str__(self):
        return f"photo {self.position} of message {self.message_id}"


class Like(models.Model):
    """イイネ! on a message, once per member."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="likes")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "member"], name="like_once")
        ]

    def __str__(self):
        return f"{self.member_id} likes {self.message_id}"


class Mention(models.Model):
    """A member @mentioned in a message (notified by a later feature)."""

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="mentions"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "member"], name="mention_once")
        ]

    def __str__(self):
        return f"{self.message_id} mentions {self.member_id}"
