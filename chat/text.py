"""Member text to HTML: everything escaped, URLs and known @mentions linked.

The result is computed once when a message is saved or edited and stored, so
pages and live fragments never parse text again. Line breaks are kept by CSS
(white-space: pre-wrap), so no markup is needed for them.
"""

import re
from collections.abc import Iterable

from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts import nicknames

# A URL runs to the next space or quote-like character; trailing punctuation
# that usually ends a sentence is left outside the link.
_URL = r"https?://[^\s<>\"'`\u3000、。「」（）]+"
# A name ends at a space, at punctuation, or at a bracket or quote mark
# (「@aiko」, (@aiko)): Japanese puts no space around a name.
_MENTION = (
    r"(?<![\w@])@([^\s@/<>\"'`、。，．,!?！？:;：；"
    r"()（）\[\]［］{}｛｝「」『』【】〈〉《》]{1,30})"
)
_TOKEN = re.compile(f"(?P<url>{_URL})|{_MENTION}")
_TRAILING = ".,;:!?)]}'\"*_~"


def _trim_url(url: str) -> str:
    """The URL without the punctuation that ends the sentence around it; a
    closing bracket stays when the URL opened one (Wikipedia's "Foo_(bar)")."""
    trimmed = url.rstrip(_TRAILING)
    while (
        len(trimmed) < len(url)
        and url[len(trimmed)] == ")"
        and (trimmed.count("(") > trimmed.count(")"))
    ):
        trimmed += ")"
    return trimmed


def _names(name: str) -> list[str]:
    """The candidates an @name may stand for, longest first: Japanese writes
    no space after a name ("@aikoさん", "@aikoの写真"), and a sentence may end
    right after it ("thanks @aiko."), so every prefix is a candidate and the
    longest nickname that exists wins."""
    return [name[:end] for end in range(len(name), 0, -1)]


def mentioned_keys(text: str) -> set[str]:
    """The comparison keys of every @name in the text."""
    return {
        nicknames.nickname_key(name)
        for m in _TOKEN.finditer(text)
        if m.group(2)
        for name in _names(m.group(2))
    }


def render(text: str, members: Iterable) -> SafeString:
    """HTML for `text`; `members` are the mentioned members that exist."""
    return render_with_mentions(text, members)[0]


def render_with_mentions(text: str, members: Iterable) -> tuple[SafeString, list]:
    """HTML for `text`, and the members it really mentions (linked)."""
    by_key = {m.nickname_key: m for m in members}
    out = []
    linked = {}
    last = 0
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        if match.group("url"):
            url = match.group("url")
            trimmed = _trim_url(url)
            end = start + len(trimmed)
            out.append(escape(text[last:start]))
            out.append(
                f'<a href="{escape(trimmed)}" rel="nofollow noopener ugc" '
                f'target="_blank">{escape(trimmed)}</a>'
            )
        else:
            for name in _names(match.group(2)):
                member = by_key.get(nicknames.nickname_key(name))
                if member is not None:
                    break
            else:
                continue
            end = start + 1 + len(name)
            out.append(escape(text[last:start]))
            href = reverse(
                "accounts:member-detail", kwargs={"nickname": member.nickname}
            )
            out.append(f'<a class="mention" href="{escape(href)}">@{escape(name)}</a>')
            linked[member.nickname_key] = member
        last = end
    out.append(escape(text[last:]))
    return mark_safe("".join(out)), list(linked.values())
