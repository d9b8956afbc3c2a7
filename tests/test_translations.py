"""The Japanese catalogue is complete, compiled, and really served.

English and Japanese are both first-class: a string added without its Japanese
translation fails here, naming the string and saying how to fix it.
"""

import gettext
import re
import shutil
import subprocess
from pathlib import Path

from django.core.management import call_command
from django.test import Client

from tests import services

BASE_DIR = Path(__file__).resolve().parent.parent
LOCALE_DIR = BASE_DIR / "locale"
PO_FILE = LOCALE_DIR / "ja" / "LC_MESSAGES" / "django.po"
MO_FILE = PO_FILE.with_suffix(".mo")
# The same places `makemessages` is told to skip when the catalogue is made.
IGNORED = [".venv", "tests", "staticfiles", "locale", "media", "node_modules"]
HOW_TO_FIX = (
    "To fix it:\n"
    "  DJANGO_DEBUG=1 .venv/bin/python manage.py makemessages -l ja "
    "--ignore=.venv --ignore=tests --ignore=staticfiles\n"
    "  then translate each listed msgid in locale/ja/LC_MESSAGES/django.po "
    "(fill msgstr, or msgstr[0] for plurals; drop any '#, fuzzy' line after "
    "checking the suggestion), and\n"
    "  DJANGO_DEBUG=1 .venv/bin/python manage.py compilemessages --ignore=.venv\n"
    "  and commit both django.po and django.mo."
)


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        services.missing(f"{tool} not found (apt-get install gettext)")
    return path


# --- A small .po reader: enough for what makemessages and msgmerge write -------

_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(\".*\")$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), literal[1:-1])


def read_po(path: Path) -> dict[tuple[str | None, str], dict]:
    """Entries keyed by (msgctxt, msgid); obsolete (#~) entries are left out."""
    entries = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        flags: set[str] = set()
        key = None
        for line in block.splitlines():
            if line.startswith("#,"):
                flags.update(f.strip() for f in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif match := _KEYWORD.match(line):
                key = match[1]
                fields[key] = _unquote(match[2])
            elif line.startswith('"') and key:
                fields[key] += _unquote(line)
        if "msgid" not in fields or fields["msgid"] == "":
            continue  # obsolete entries, comments only, or the header
        msgstrs = [v for k, v in sorted(fields.items()) if k.startswith("msgstr")]
        entries[(fields.get("msgctxt"), fields["msgid"])] = {
            "plural": fields.get("msgid_plural"),
            "msgstrs": msgstrs,
            "fuzzy": "fuzzy" in flags,
        }
    return entries


def _extract_fresh_catalogue(tmp_path: Path, settings, monkeypatch) -> Path:
    """Run makemessages over the sources into a scratch locale directory.

    makemessages walks the current directory and writes next to the nearest
    `locale/` it knows, which would be the committed one. So it walks a mirror
    of the project made of symlinks, with its own empty `locale/`.
    """
    mirror = tmp_path / "src"
    mirror.mkdir()
    for entry in BASE_DIR.iterdir():
        if entry.name in IGNORED or entry.name.startswith("."):
            continue
        (mirror / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    scratch_locale = mirror / "locale"
    (scratch_locale / "ja" / "LC_MESSAGES").mkdir(parents=True)
    settings.LOCALE_PATHS = [str(scratch_locale)]
    monkeypatch.chdir(mirror)
    call_command(
        "makemessages",
        locale=["ja"],
        symlinks=True,
        ignore_patterns=IGNORED,
        verbosity=0,
    )
    fresh = scratch_locale / "ja" / "LC_MESSAGES" / "django.po"
    assert fresh.exists(), "makemessages wrote no catalogue"
    return fresh


def _describe(key: tuple[str | None, str]) -> str:
    context, msgid = key
    return f"  msgid {msgid!r}" + (f" (context {context!r})" if context else "")


def test_every_string_in_the_code_has_a_japanese_translation(
    tmp_path, settings, monkeypatch
):
    _require("xgettext")
    _require("msgmerge")
    fresh = read_po(_extract_fresh_catalogue(tmp_path, settings, monkeypatch))
    assert fresh, "makemessages found no translatable strings at all"
    committed = read_po(PO_FILE) if PO_FILE.exists() else {}

    missing, untranslated, fuzzy = [], [], []
    for key in sorted(fresh, key=lambda k: (k[0] or "", k[1])):
        entry = committed.get(key)
        if entry is None:
            missing.append(key)
        elif not entry["msgstrs"] or not all(s.strip() for s in entry["msgstrs"]):
            untranslated.append(key)
        elif entry["fuzzy"]:
            fuzzy.append(key)

    problems = []
    if missing:
        problems.append("Not in the Japanese catalogue at all:")
        problems += [_describe(k) for k in missing]
    if untranslated:
        problems.append("In the catalogue but not translated:")
        problems += [_describe(k) for k in untranslated]
    if fuzzy:
        problems.append("Marked fuzzy (a guess gettext will not use):")
        problems += [_describe(k) for k in fuzzy]
    assert not problems, (
        f"{len(missing) + len(untranslated) + len(fuzzy)} string(s) lack a "
        f"Japanese translation in {PO_FILE.relative_to(BASE_DIR)}.\n"
        + "\n".join(problems)
        + "\n"
        + HOW_TO_FIX
    )


def test_japanese_plurals_use_the_single_japanese_form():
    assert PO_FILE.exists(), f"{PO_FILE} is missing.\n{HOW_TO_FIX}"
    header = PO_FILE.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert '"Language: ja\\n"' in header
    assert "charset=UTF-8" in header
    assert "nplurals=1; plural=0;" in header
    assert "#, fuzzy" not in header, "the catalogue header is still marked fuzzy"
    for (_, msgid), entry in read_po(PO_FILE).items():
        if entry["plural"] is not None:
            assert len(entry["msgstrs"]) == 1, (
                f"{msgid!r}: Japanese has one plural form; keep only msgstr[0]"
            )


def test_committed_mo_matches_the_po(tmp_path):
    msgfmt = _require("msgfmt")
    assert MO_FILE.exists(), f"{MO_FILE} is not committed.\n{HOW_TO_FIX}"
    compiled = tmp_path / "django.mo"
    # --check validates the header and that every python-format placeholder of
    # a msgid appears in its msgstr.
    result = subprocess.run(
        [msgfmt, "--check", "-o", str(compiled), str(PO_FILE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"msgfmt --check failed:\n{result.stderr}"

    with compiled.open("rb") as fresh, MO_FILE.open("rb") as committed:
        expected = gettext.GNUTranslations(fresh)._catalog
        actual = gettext.GNUTranslations(committed)._catalog
    # The header entry carries POT-Creation-Date and the like; compare messages.
    expected.pop("", None)
    actual.pop("", None)
    stale = sorted(
        str(k)
        for k in expected.keys() | actual.keys()
        if expected.get(k) != actual.get(k)
    )
    assert not stale, (
        "locale/ja/LC_MESSAGES/django.mo is out of date with django.po for:\n  "
        + "\n  ".join(stale[:20])
        + "\nRun: DJANGO_DEBUG=1 .venv/bin/python manage.py compilemessages "
        "--ignore=.venv, and commit django.mo."
    )


# --- Real pages in both languages ---------------------------------------------


def _page(client: Client, url: str = "/accounts/login/", **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_login_page_is_english_by_default(db):
    html = _page(Client())
    assert '<html lang="en">' in html
    assert "Nickname" in html
    assert "Password" in html
    assert "Log in" in html
    assert "ニックネーム" not in html


def test_login_page_follows_a_japanese_browser(db):
    html = _page(Client(), HTTP_ACCEPT_LANGUAGE="ja")
    assert '<html lang="ja">' in html
    assert "ニックネーム" in html
    assert "パスワード" in html
    assert "ログイン" in html
    assert "Nickname" not in html


def test_language_switcher_sets_japanese_and_back_to_english(db):
    client = Client()
    html = _page(client)
    # The switcher in base.html: a POST form to set_language, one button per
    # language, returning to the page it was on.
    form = re.search(
        r'<form class="language-switcher" action="([^"]+)" method="post">(.*?)</form>',
        html,
        re.S,
    )
    assert form, "the language switcher is missing from base.html"
    action, body = form.groups()
    assert re.findall(r'name="language" value="(\w+)"', body) == ["en", "ja"]
    next_url = re.search(r'name="next" value="([^"]*)"', body)[1]
    assert next_url == "/accounts/login/"

    response = client.post(action, {"language": "ja", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == next_url
    html = _page(client, response["Location"])
    assert '<html lang="ja">' in html
    assert "ニックネーム" in html
    assert "ログイン" in html
    ja_button = re.search(r'<button[^>]*value="ja"[^>]*>', html)[0]
    assert 'aria-pressed="true"' in ja_button

    response = client.post(action, {"language": "en", "next": next_url})
    html = _page(client, response["Location"])
    assert '<html lang="en">' in html
    assert "Nickname" in html


def test_logged_in_pages_are_japanese_too(member_client):
    member_client.post("/i18n/setlang/", {"language": "ja", "next": "/"})
    html = _page(member_client, "/")
    for japanese in ("ホーム", "コミュニティ", "友だち", "お知らせ", "マイページ"):
        assert japanese in html
    assert "ようこそ、aikoさん" in html
