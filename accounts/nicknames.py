"""What a nickname may be, and when two nicknames are the same or look alike.

A nickname is compared after NFKC normalisation and case folding, so "Ａｉｋｏ",
"AIKO" and "aiko" are one nickname. Control, format (zero-width, bidi), default-
ignorable and other invisible characters are refused: they let two different-
looking nicknames be the same one, or the same-looking nicknames be different
ones. So are nicknames that mix scripts (a Cyrillic "а" among Latin letters),
except the mix Japanese is written in: Han, Hiragana, Katakana and Latin.

Two nicknames that still look alike have the same skeleton (Unicode TR39,
"Confusable Detection"), which is stored beside the key and unique: "соса" in
Cyrillic cannot join beside "coca", nor "夕ロウ" (Han 夕) beside "タロウ".
"""

import functools
import unicodedata

from confusable_homoglyphs.categories import alias as script_of
from confusable_homoglyphs.confusables import confusables_data
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_LENGTH = 30

# Categories that render as nothing or move text around: Cc control, Cf format
# (ZWJ, ZWSP, bidi overrides), Cs surrogates, Co private use, Cn unassigned,
# Zl/Zp line and paragraph separators.
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
# Default_Ignorable_Code_Point (Unicode 15.1, DerivedCoreProperties.txt) beyond
# the categories above: marks and fillers that render as nothing, among them the
# combining grapheme joiner (U+034F) and every variation selector (U+FE0F);
# plus the Braille blank (U+2800), which is not ignorable but shows nothing.
# Python's unicodedata does not carry the property.
_INVISIBLE = [
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),  # tags and the supplementary variation selectors
]
# Scripts a nickname may mix (Unicode TR39's "Highly Restrictive" level allows
# these for Japanese); Common and Inherited characters ("-", "_", "・", "ー",
# digits, combining marks) go with any script.
_JAPANESE = {"HAN", "HIRAGANA", "KATAKANA", "LATIN"}
_ANY_SCRIPT = {"COMMON", "INHERITED"}


# Words in the place of a nickname in URLs (/members/<nickname>/).
RESERVED = frozenset({"search"})


def normalize(nickname: str) -> str:
    """The form a nickname is stored and shown in: NFKC, outer spaces trimmed."""
    return unicodedata.normalize("NFKC", nickname).strip()


def nickname_key(nickname: str) -> str:
    """The form two nicknames are compared in."""
    return normalize(nickname).casefold()


def skeleton(text: str) -> str:
    """TR39's skeleton: NFD, each character replaced by its prototype (the one
    character, or characters, that every look-alike of it maps to), NFD."""
    prototypes = _prototypes()
    result = unicodedata.normalize("NFD", text)
    # Prototypes are their own prototypes in TR39's table; the pairs
    # _prototypes() resolves by choice are not, so map until nothing changes.
    for _pass in range(4):
        mapped = "".join(prototypes.get(char, char) for char in result)
        mapped = unicodedata.normalize("NFD", mapped)
        if mapped == result:
            break
        result = mapped
    return result


def nickname_skeleton(nickname: str) -> str:
    """The form two look-alike nicknames share: the skeleton of the key (TR39
    takes the skeleton after case folding where case does not matter)."""
    return skeleton(nickname_key(nickname))


@functools.cache
def _prototypes() -> dict[str, str]:
    """Character -> prototype, from confusable-homoglyphs' copy of TR39's
    confusables.txt.

    The library keeps each line "source -> prototype" in both directions, so the
    direction is read back: a source maps to one prototype and nothing maps to
    it, while a prototype lists all its sources. A prototype with one source is
    a pair whose direction the data cannot tell; both map to the smaller one,
    which makes them equal all the same. Right-to-left characters come wrapped
    in U+200E marks, kept from the file's comments: they are unwrapped.
    """

    def bare(text: str) -> str:
        return text.replace("\u200e", "")

    links: dict[str, list[str]] = {}
    for key, entries in confusables_data.items():
        if len(bare(key)) == 1:
            links[bare(key)] = [bare(entry["c"]) for entry in entries]
    table = {}
    for char, others in links.items():
        if len(others) != 1:
            continue  # a prototype: it stays as it is
        (other,) = others
        # A source, unless the two list only each other: then the smaller.
        if links.get(other) != [char] or other < char:
            table[char] = other
    return table


def _is_invisible(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _INVISIBLE)


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
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES or _is_invisible(char):
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
    if all(unicodedata.category(char).startswith(("M", "Z")) for char in nickname):
        # Marks alone render as nothing, or over whatever is beside the name.
        raise ValidationError(
            _("A nickname cannot contain control or invisible characters."),
            code="invisible",
        )
    scripts = {script_of(char) for char in nickname} - _ANY_SCRIPT
    if len(scripts) > 1 and not scripts <= _JAPANESE:
        raise ValidationError(
            _(
                "A nickname cannot mix alphabets (such as Latin with Cyrillic or "
                "Greek): mixed, it can look like someone else's."
            ),
            code="mixed_script",
        )
    if nickname_key(nickname) in RESERVED:
        # /members/search/ is the member search, not a member's page.
        raise ValidationError(
            _("This nickname is taken. Choose another one."), code="reserved"
        )
    if "/" in nickname or "@" in nickname:
        # Nicknames appear in URLs (/members/<nickname>/) and in @mentions.
        raise ValidationError(
            _("A nickname cannot contain “/” or “@”."), code="reserved_char"
        )
