"""{% footprint_badge %}: the nav's count of today's footprints, asked only by
pages that show the nav (an htmx fragment does not), and only for the member
whose footprints they are."""

from django import template

from presence import footprints

register = template.Library()


@register.inclusion_tag("presence/_footprint_badge.html", takes_context=True)
def footprint_badge(context):
    user = getattr(context.get("request"), "user", None)
    count = 0
    if user is not None and user.is_authenticated:
        count = footprints.count_today(user)
    return {"footprints_today": count}
