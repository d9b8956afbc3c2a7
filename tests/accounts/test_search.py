"""Member search (/members/search/?q=): nickname prefix compared as nicknames
are (NFKC, case folded), Japanese included; inactive members, members hidden
by a block either way and the viewer left out; 20 to a page, in a flat number
of queries."""

import pytest
from django.core.exceptions import ValidationError

from accounts import actions, nicknames
from accounts.models import Block
from tests.conftest import client_for

URL = "/members/search/"


def found(client, q, page=None) -> list[str]:
    params = {"q": q}
    if page:
        params["page"] = page
    response = client.get(URL, params)
    assert response.status_code == 200
    page = response.context["page"]
    return [] if page is None else [m.nickname for m in page.object_list]


@pytest.fixture
def people(member_factory):
    names = ["aiko", "Aimi", "ben", "あいこ", "アイコ", "愛子", "ＡＩＲＩ"]
    return {name: member_factory(nickname=name) for name in names}


@pytest.fixture
def viewer(member_factory):
    return member_factory(nickname="viewer")


def test_the_page_has_a_labelled_search_box_and_no_results_yet(viewer):
    response = client_for(viewer).get(URL)

    assert response.status_code == 200
    assert '<label for="id_q">Search members</label>' in response.text
    assert 'type="search"' in response.text
    assert response.context["page"] is None
    assert "Members found" not in response.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ai", ["aiko", "Aimi", "AIRI"]),
        ("AI", ["aiko", "Aimi", "AIRI"]),
        ("ＡＩ", ["aiko", "Aimi", "AIRI"]),  # full width, as a Japanese IME types
        ("aik", ["aiko"]),
        ("あい", ["あいこ"]),
        ("ｱｲ", ["アイコ"]),  # half-width katakana is NFKC's full width
        ("愛", ["愛子"]),
        (" b ", ["ben"]),
        ("z", []),
        ("iko", []),  # a prefix, not anywhere in the nickname
        ("%", []),  # LIKE's wildcards are plain characters here
        ("_i", []),
    ],
)
def test_nicknames_are_found_by_their_start_as_nicknames_compare(
    people, viewer, query, expected
):
    assert found(client_for(viewer), query) == expected


def test_results_link_to_member_pages(people, viewer):
    response = client_for(viewer).get(URL, {"q": "あ"})

    assert 'href="/members/%E3%81%82%E3%81%84%E3%81%93/"' in response.text


def test_an_empty_or_blank_query_searches_nothing(people, viewer):
    client = client_for(viewer)

    for q in ("", "   "):
        response = client.get(URL, {"q": q})
        assert response.context["page"] is None


def test_no_match_says_so(people, viewer):
    response = client_for(viewer).get(URL, {"q": "zz"})

    assert "No member's nickname starts with “zz”." in response.text


def test_inactive_members_the_viewer_and_blocks_either_way_are_left_out(
    member_factory, viewer
):
    for name in ("kaito", "kana", "kenji", "kumi"):
        member_factory(nickname=name)
    member_factory(nickname="kin", is_active=False)
    me = member_factory(nickname="koji")
    Block.objects.create(blocker=me, blocked=member_factory(nickname="kaede"))
    Block.objects.create(blocker=member_factory(nickname="kasumi"), blocked=me)

    assert found(client_for(me), "k") == ["kaito", "kana", "kenji", "kumi"]
    # Someone else sees the blocked and the blocker, and koji.
    assert found(client_for(viewer), "ka") == ["kaede", "kaito", "kana", "kasumi"]


def test_friends_are_found_too(member_factory, viewer):
    friend = member_factory(nickname="mika")
    actions.make_friends(viewer, friend)

    assert found(client_for(viewer), "mi") == ["mika"]


def test_results_come_20_to_a_page_and_the_pages_keep_the_query(member_factory, viewer):
    for n in range(25):
        member_factory(nickname=f"user{n:02d}")
    client = client_for(viewer)

    first = client.get(URL, {"q": "user"})
    second = found(client, "user", page=2)

    assert len(first.context["page"].object_list) == 20
    assert 'href="?q=user&amp;page=2"' in first.text
    assert second == [f"user{n}" for n in range(20, 25)]


def test_a_query_longer_than_100_characters_is_refused_clearly(viewer):
    response = client_for(viewer).get(URL, {"q": "a" * 101})

    assert response.status_code == 200
    assert "Ensure this value has at most 100 characters" in response.text
    assert response.context["page"] is None


def test_a_nul_character_is_refused_clearly(viewer):
    # project/input.py answers it for every view, before the search runs.
    response = client_for(viewer).get(URL, {"q": "a\x00b"})

    assert response.status_code == 400
    assert "control character" in response.text


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL, {"q": "a"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_search_query_count_stays_flat(
    member_factory, viewer, django_assert_num_queries
):
    def more(count, start):
        for n in range(start, start + count):
            member_factory(nickname=f"sato{n:03d}")

    more(10, 0)
    client = client_for(viewer)
    # session, member, count, page, the navigation's counts (friend requests,
    # notifications, footprints, reports)
    with django_assert_num_queries(8):
        small = client.get(URL, {"q": "sato"})
    more(90, 10)
    with django_assert_num_queries(8):
        large = client.get(URL, {"q": "sato"})

    assert small.text.count('href="/members/sato') == 10
    assert large.text.count('href="/members/sato') == 20


def test_search_cannot_be_a_nickname(member_factory):
    # /members/search/ is the search page; a member named so would have no page.
    for nickname in ("search", "SEARCH", "ｓｅａｒｃｈ"):
        with pytest.raises(ValidationError):
            nicknames.validate_nickname(nickname)
    nicknames.validate_nickname("searcher")


def test_the_friends_page_links_to_the_search(viewer):
    text = client_for(viewer).get("/friends/").text

    assert f'href="{URL}"' in text
