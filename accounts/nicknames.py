"""What a nickname may be, and when two nicknames are the same.

A nickname is compared after NFKC normalisation and case folding, so "Ａｉｋｏ",
"AIKO" and "aiko" are one nickname. Control, format (zero-width, bidi) and other
invisible characters are refused: they let two different-looking nicknames be
the same one, or the same-looking nicknames be different ones.
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_LENGTH = 30

# Categories that render as nothing or move text around: Cc control, Cf format
# (ZWJ, ZWSP, bidi overrides), Cs surrogates, Co private use, Cn unassigned,
# Zl/Zp line and paragraph separators.
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
# Blank-looking letters and fillers that are not in those categories.
_INVISIBLE = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800", "\u180e"}


def normalize(nickname: str) -> str:
    """The form a nickname is stored and shown in: NFKC, outer spaces trimmed."""
    return unicodedata.normalize("NFKC", nickname).strip()


def nickname_key(nickname: str) -> str:
    """The form two nicknames are compared in."""
    return normalize(nickname).casefold()


def validate_nickname(value: str) -> None:
    nickname = normalize(value)
    if not nickname:
        raise ValidationError(_("Choose a nickname."), code="empty")
    if len(nickname) > MAX_LENGTH:
        raise ValidationError(
            _("A nickname has at most %(max)d characters."),
            code="too_long",
            params={"max": MAX_LENGTH},
        )
    for char in nickname:
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES or char in _INVISIBLE:
            raise ValidationError(
                _("A nickname cannot contain control or invisible characters."),
                code="invisible",
            )
        if char.isspace() and char != " ":
            raise ValidationError(
                _("A nickname cannot contain tabs or line breaks."), code="space"
            )
    if "  " in nickname:
        raise ValidationError(
            _("A nickname cannot contain two spaces in a row."), code="spaces"
        )
    if "/" in nickname or "@" in nickname:
        # Nicknames appear in URLs (/members/<nickname>/) and in @mentions.
        raise ValidationError(
            _("A nickname cannot contain “/” or “@”."), code="reserved_char"
        )
