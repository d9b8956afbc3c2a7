"""The muted member's notice at the composer, written by the server for a
mute already in force when the page loads (static/js/moderation.js writes
the same words for one that arrives live)."""

from django import template
from django.utils.translation import gettext as _

from moderation.members import is_until_lifted
from project.templatetags.when import long_text

register = template.Library()


def notice_text(until, reason: str) -> str:
    until_text = _("it is lifted") if is_until_lifted(until) else long_text(until)
    if reason:
        return _("You are muted in this community until %(until)s: %(reason)s") % {
            "until": until_text,
            "reason": reason,
        }
    return _("You are muted in this community until %(until)s.") % {"until": until_text}


@register.filter
def mute_notice(membership) -> str:
    """The notice for this membership's mute; "" when it is not muted."""
    if membership is None or not membership.is_muted():
        return ""
    return notice_text(membership.muted_until, membership.mute_reason)
