"""{% report_nav %}: the nav's "Reports" link with its open count, for staff
and members who moderate a community; nothing for anyone else. One query
(report_views.nav_state), asked only by pages that show the nav."""

from django import template

from moderation import report_views

register = template.Library()


@register.inclusion_tag("moderation/_report_nav.html", takes_context=True)
def report_nav(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    handles, count = (False, 0) if user is None else report_views.nav_state(user)
    return {
        "handles_reports": handles,
        "request": request,
        "LANGUAGE_CODE": context.get("LANGUAGE_CODE"),
        **report_views.badge_context(count),
    }
