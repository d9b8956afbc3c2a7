"""The topic page's "Mute notifications" toggle, without the chat view having
to know about notifications: one query, on the topic page only."""

from django import template

from presence.models import TopicMute

register = template.Library()


@register.inclusion_tag("presence/notifications_mute.html", takes_context=True)
def topic_mute_toggle(context, topic):
    user = context["request"].user
    return {
        "topic": topic,
        "topic_muted": TopicMute.objects.filter(member=user, topic=topic).exists(),
        "csrf_token": context.get("csrf_token"),
    }
