"""chat.text: member text to HTML. Everything is escaped; only http(s) URLs
and @mentions of members that exist become links."""

import pytest
from django.utils.safestring import SafeString

from chat import text
from tests.chat.conftest import elements

REL = 'rel="nofollow noopener ugc"'


class Aiko:
    """A stand-in for a Member: render() needs only these two attributes."""

    nickname = "aiko"
    nickname_key = "aiko"


class Named:
    def __init__(self, nickname):
        self.nickname = nickname
        self.nickname_key = text.nicknames.nickname_key(nickname)


def links(html: str) -> list[dict]:
    return [attrs for tag, attrs in elements(html) if tag == "a"]


def link(url: str) -> str:
    return f'<a href="{url}" {REL} target="_blank">{url}</a>'


def mention(name: str, nickname: str = "aiko") -> str:
    return f'<a class="mention" href="/members/{nickname}/">@{name}</a>'


# --- Escaping -----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<b hx-get="/x" hx-trigger="load">bold?</b>',
        '<div hx-on:click="alert(1)">',
        '<a href="javascript:alert(1)">click</a>',
        "<!-- comment --><style>*{}</style>",
    ],
)
def test_member_markup_never_becomes_an_element(body):
    html = text.render(body, [])

    assert elements(html) == []
    assert "<" not in html and ">" not in html


def test_special_characters_are_escaped_and_the_result_is_safe_to_insert():
    html = text.render("""Tom & Jerry say "hi" 'there' <3""", [])

    assert html == ("Tom &amp; Jerry say &quot;hi&quot; &#x27;there&#x27; &lt;3")
    assert isinstance(html, SafeString)


def test_line_breaks_and_spaces_are_kept_as_they_are():
    # CSS (white-space: pre-wrap) shows them; no <br> is needed.
    assert text.render("one\n\ntwo   three\tfour", []) == "one\n\ntwo   three\tfour"


def test_japanese_text_passes_through_unchanged():
    body = "こんにちは、世界！「縁」をよろしく。"

    assert text.render(body, []) == body


# --- Links --------------------------------------------------------------------


def test_url_becomes_a_link_with_nofollow_noopener_ugc():
    html = text.render("look: https://example.com/path?a=1&b=2#top", [])

    assert html == "look: " + link("https://example.com/path?a=1&amp;b=2#top")
    assert links(html) == [
        {
            "href": "https://example.com/path?a=1&b=2#top",
            "rel": "nofollow noopener ugc",
            "target": "_blank",
        }
    ]


@pytest.mark.parametrize("end", [".", ",", "!", "?", ")", ":", ";", "...", "?!"])
def test_trailing_punctuation_is_left_out_of_a_link(end):
    html = text.render(f"see http://example.com/a{end}", [])

    assert html == "see " + link("http://example.com/a") + end


def test_url_in_parentheses_is_linked_without_them():
    html = text.render("(https://example.com/a)", [])

    assert html == "(" + link("https://example.com/a") + ")"


@pytest.mark.parametrize(
    ("body", "before", "after"),
    [
        ("https://example.com/。次へ", "", "。次へ"),
        ("https://example.com/、それと", "", "、それと"),
        ("「https://example.com/」", "「", "」"),
        ("（https://example.com/）", "（", "）"),
        ("https://example.com/\u3000全角スペース", "", "\u3000全角スペース"),
    ],
    ids=["maru", "ten", "kagikakko", "fullwidth-parens", "fullwidth-space"],
)
def test_japanese_punctuation_ends_a_url(body, before, after):
    html = text.render(body, [])

    assert html == before + link("https://example.com/") + after


def test_quote_in_a_url_cannot_break_out_of_the_href():
    html = text.render('https://example.com/a"onmouseover="alert(1)', [])

    assert links(html) == [
        {
            "href": "https://example.com/a",
            "rel": "nofollow noopener ugc",
            "target": "_blank",
        }
    ]
    assert "onmouseover" not in {k for _tag, attrs in elements(html) for k in attrs}


@pytest.mark.parametrize(
    "body",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/file",
        "www.example.com",
        "//example.com/x",
    ],
)
def test_only_http_and_https_urls_become_links(body):
    assert links(text.render(body, [])) == []


def test_several_urls_are_each_linked():
    html = text.render("http://a.example/ and https://b.example/x", [])

    assert [a["href"] for a in links(html)] == [
        "http://a.example/",
        "https://b.example/x",
    ]


# --- Mentions -----------------------------------------------------------------


def test_mention_of_an_existing_member_is_linked_to_their_page():
    assert text.render("hi @aiko!", [Aiko]) == "hi " + mention("aiko") + "!"


def test_mention_of_an_unknown_name_stays_text():
    assert text.render("hi @nobody!", [Aiko]) == "hi @nobody!"


def test_mentioned_keys_are_compared_folded_and_the_typed_form_is_shown():
    # Every prefix is a candidate (names run into Japanese text); the folded
    # full names are among them.
    assert {"aiko", "ben"} <= text.mentioned_keys("@ＡＩＫＯ and @Ben")
    assert "ＡＩＫＯ" not in text.mentioned_keys("@ＡＩＫＯ and @Ben")
    assert text.render("@ＡＩＫＯ", [Aiko]) == mention("ＡＩＫＯ")


@pytest.mark.parametrize(
    ("body", "before", "after"),
    [
        ("「@aiko」", "「", "」"),
        ("『@aiko』さん", "『", "』さん"),
        ("（@aiko）", "（", "）"),
        ("(@aiko)", "(", ")"),
        ("【@aiko】", "【", "】"),
        ("@aiko　こんにちは", "", "\u3000こんにちは"),
        ("@aiko、元気？", "", "、元気？"),
        ("@aiko。", "", "。"),
        ("@aiko！", "", "！"),
        ("@aiko，", "", "，"),
        ("thanks @aiko.", "thanks ", "."),
        ("@aiko, hi", "", ", hi"),
        ("@aiko's cat", "", "&#x27;s cat"),
        ("@aiko\nnext line", "", "\nnext line"),
    ],
    ids=[
        "kagikakko",
        "nijukagi",
        "fullwidth-parens",
        "parens",
        "sumitsuki",
        "fullwidth-space",
        "ten",
        "maru",
        "fullwidth-exclamation",
        "fullwidth-comma",
        "full-stop",
        "comma",
        "apostrophe",
        "newline",
    ],
)
def test_mention_ends_at_japanese_and_western_punctuation(body, before, after):
    assert text.mentioned_keys(body) >= {"aiko"}
    assert text.render(body, [Aiko]) == before + mention("aiko") + after


def test_japanese_nickname_is_mentioned():
    あいこ = Named("あいこ")

    html = text.render("@あいこ さん、おはよう", [あいこ])

    assert text.mentioned_keys("@あいこ さん") == {"あ", "あい", "あいこ"}
    assert html == (
        '<a class="mention" href="/members/%E3%81%82%E3%81%84%E3%81%93/">@あいこ</a>'
        " さん、おはよう"
    )


@pytest.mark.parametrize(
    "body", ["mail me at someone@aiko", "@@aiko", "x@aiko"], ids=str
)
def test_at_sign_inside_a_word_is_not_a_mention(body):
    assert text.mentioned_keys(body) == set()
    assert links(text.render(body, [Aiko])) == []


def test_at_sign_inside_a_url_is_part_of_the_url_not_a_mention():
    html = text.render("https://example.com/@aiko", [Aiko])

    assert html == link("https://example.com/@aiko")
    assert text.mentioned_keys("https://example.com/@aiko") == set()


def test_mention_text_and_href_are_escaped():
    member = Named("a&b")

    html = text.render("@a&b hi", [member])

    assert html == '<a class="mention" href="/members/a&amp;b/">@a&amp;b</a> hi'


def test_mentions_and_links_together_keep_the_text_between_them_escaped():
    html = text.render("@aiko <see> https://example.com/ & @nobody", [Aiko])

    assert html == (
        mention("aiko")
        + " &lt;see&gt; "
        + link("https://example.com/")
        + " &amp; @nobody"
    )


def test_a_name_followed_by_japanese_text_is_mentioned_by_its_longest_nickname():
    Aiko, Ai = Named("aiko"), Named("ai")

    html, linked = text.render_with_mentions("@aikoさん、@aiの写真", [Aiko, Ai])

    assert html == mention("aiko") + "さん、" + mention("ai", "ai") + "の写真"
    assert linked == [Aiko, Ai]


def test_only_the_nickname_a_mention_links_is_recorded():
    # "@aiko." links aiko when "aiko." does not exist, and records only aiko.
    Aiko, AikoDot = Named("aiko"), Named("aiko.")

    _html, linked = text.render_with_mentions("thanks @aiko!", [Aiko, AikoDot])

    assert linked == [Aiko]


def test_a_url_keeps_the_closing_bracket_it_opened():
    html = text.render(
        "see https://en.wikipedia.org/wiki/Mixi_(service). (and https://example.com)",
        [],
    )

    assert [a["href"] for a in links(html)] == [
        "https://en.wikipedia.org/wiki/Mixi_(service)",
        "https://example.com",
    ]
    assert html.endswith("</a>)")
