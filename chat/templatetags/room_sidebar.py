"""{% room_sidebar topic %}: beside a topic on a wide screen, the other topics
of its community with what the member has not read in each (as Discord's
channel list). One query: Topic.with_unread_for, the community page's count."""

from django import template

from communities.models import Topic

register = template.Library()

# The most recently active topics; the community's page lists them all.
SHOWN = 30


@register.inclusion_tag("chat/_sidebar.html", takes_context=True)
def room_sidebar(context, topic):
    member = context["request"].user
    topics = list(
        Topic.objects.in_community(topic.community_id)
        .with_unread_for(member)
        .order_by("-last_message_at", "-pk")
        .only("pk", "title", "community_id")[:SHOWN]
    )
    return {"current": topic, "community": topic.community, "topics": topics}
