"""Members' diary text as HTML: everything escaped, http(s) URLs linked, line
breaks kept (by CSS, white-space: pre-wrap). The same function chat messages
use (chat/text.py), without mentions."""

from django import template

from chat import text

register = template.Library()


@register.filter
def diary_text(value: str):
    return text.render(value or "", ())
