"""The frame around a topic, in a real browser: on a 360 x 740 phone (touch,
Japanese) the log gets at least 70% of the height, the main navigation is a
tab bar at the bottom (a landmark named "Main") whose "More" opens the other
links, and the room's header is one line whose "Topic details" opens the
rest; on a 1280 x 800 desktop the community's topics sit beside the room
with their unread counts; the topic's link can be copied or shared; the
colours follow the system's dark scheme."""

import pytest
from playwright.sync_api import expect

from chat import text
from tests.e2e.pages import DESKTOP, PHONE, in_japanese, log_in, open_topic
from tests.factories import MessageFactory, TopicFactory, coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Web Share where the test says so: navigator.share records what it was given.
FAKE_SHARE = """
window.__shared = [];
navigator.share = (data) => { window.__shared.push(data); return Promise.resolve(); };
"""


@pytest.fixture
def club(aiko, ben):
    return coffee_club(aiko, ben)


@pytest.fixture
def topic(club, aiko, ben):
    topic = TopicFactory(community=club, title="Morning brews", created_by=aiko)
    for n in range(30):
        body = f"Message number {n} about coffee"
        MessageFactory(
            topic=topic,
            author=ben if n % 2 else aiko,
            body=body,
            body_html=text.render(body, []),
        )
    return topic


def test_on_a_phone_the_log_gets_most_of_the_screen_and_the_tabs_sit_at_the_bottom(
    new_context, topic, aiko
):
    page = new_context(**PHONE).new_page()
    log_in(page, aiko.nickname)
    in_japanese(page)
    open_topic(page, topic)

    scroller = page.locator(f"#topic-{topic.pk}-scroller").bounding_box()
    assert scroller["height"] >= 0.7 * 740, scroller
    # Nothing is wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    tabs = page.get_by_role("navigation", name="メインメニュー")  # "Main"
    bar = tabs.bounding_box()
    assert bar["y"] + bar["height"] == pytest.approx(740, abs=1)
    for name in ["ホーム", "コミュニティ", "お知らせ", "マイページ"]:
        expect(tabs.get_by_role("link", name=name)).to_be_visible()
    # The other links wait behind "More" (その他).
    events = tabs.get_by_role("link", name="イベント")
    expect(events).to_be_hidden()
    more = tabs.get_by_role("button", name="その他")
    more.click()
    expect(more).to_have_attribute("aria-expanded", "true")
    expect(events).to_be_visible()
    page.keyboard.press("Escape")
    expect(events).to_be_hidden()
    expect(more).to_be_focused()

    # The room's header is one line; "Topic details" opens the rest.
    mute = page.get_by_role("button", name="お知らせをミュート")
    expect(mute).to_be_hidden()
    head = page.locator(f"#topic-{topic.pk}-head").bounding_box()
    assert head["height"] <= 56, head
    page.get_by_role("button", name="トピックの詳細").click()
    expect(mute).to_be_visible()

    # Typing: the tab bar steps aside for the keyboard.
    page.get_by_role("textbox", name="メッセージ").focus()
    expect(tabs).to_be_hidden()


def test_on_a_desktop_the_communitys_topics_sit_beside_the_room_with_unread_counts(
    new_context, topic, club, aiko, ben
):
    other = TopicFactory(community=club, title="Grinders", created_by=ben)
    for n in range(3):
        MessageFactory(
            topic=other, author=ben, body=f"grind {n}", body_html=f"grind {n}"
        )
    page = new_context(**DESKTOP).new_page()
    log_in(page, aiko.nickname)
    open_topic(page, topic)

    topics = page.get_by_role("navigation", name=club.name)
    expect(topics).to_be_visible()
    expect(
        topics.get_by_role("link", name="Morning brews", exact=True)
    ).to_have_attribute("aria-current", "page")
    grinders = topics.get_by_role("link", name="Grinders 3 unread messages")
    expect(grinders).to_be_visible()
    grinders.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Grinders")
    # Read now: no count on it, and one on nothing else.
    expect(
        page.get_by_role("navigation", name=club.name).locator(".badge")
    ).to_have_count(0)
    # The tab bar's "More" is not shown on a desktop: every link is.
    main = page.get_by_role("navigation", name="Main")
    expect(main.get_by_role("link", name="Events")).to_be_visible()
    expect(main.get_by_role("button", name="More")).to_be_hidden()


def test_the_sidebar_is_not_on_a_phone(new_context, topic, club, aiko):
    page = new_context(**PHONE).new_page()
    log_in(page, aiko.nickname)
    open_topic(page, topic)
    expect(page.get_by_role("navigation", name=club.name)).to_be_hidden()


def test_the_topics_link_is_copied_where_the_browser_cannot_share(
    new_context, topic, aiko
):
    context = new_context(**DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    log_in(page, aiko.nickname)
    open_topic(page, topic)
    expect(page.get_by_role("button", name="Share")).to_be_hidden()
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("[data-share-box] [role=status]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == page.url


def test_the_topics_link_goes_to_the_share_sheet_where_there_is_one(
    new_context, topic, aiko
):
    context = new_context(**PHONE)
    context.add_init_script(FAKE_SHARE)
    page = context.new_page()
    log_in(page, aiko.nickname)
    open_topic(page, topic)
    # One button in the header: Share replaces Copy link.
    expect(page.get_by_role("button", name="Copy link")).to_be_hidden()
    page.get_by_role("button", name="Share").click()
    shared = page.evaluate("window.__shared")
    assert shared == [{"title": "Morning brews", "url": page.url}]


@pytest.mark.parametrize(
    "scheme,paper", [("light", "rgb(255, 255, 255)"), ("dark", "rgb(27, 31, 36)")]
)
def test_the_room_follows_the_systems_colour_scheme(
    new_context, topic, aiko, scheme, paper
):
    page = new_context(**DESKTOP, color_scheme=scheme).new_page()
    log_in(page, aiko.nickname)
    open_topic(page, topic)
    chat = page.locator(".chat")
    assert chat.evaluate("el => getComputedStyle(el).backgroundColor") == paper


def test_when_the_keyboard_opens_the_composer_stays_above_it_and_the_log_keeps_place(
    new_context, topic, aiko
):
    """The keyboard, as Chromium on Android makes room for it with
    interactive-widget=resizes-content: the viewport gets shorter."""
    page = new_context(**PHONE).new_page()
    log_in(page, aiko.nickname)
    open_topic(page, topic)
    last = page.locator("article.msg").last
    expect(last).to_be_in_viewport()
    page.get_by_role("textbox", name="Message").focus()
    page.set_viewport_size({"width": 360, "height": 420})
    # The newest message is still in view, right above the composer.
    expect(last).to_be_in_viewport()
    box = page.get_by_role("button", name="Send").bounding_box()
    assert box["y"] + box["height"] <= 420
    scroller = page.locator(f"#topic-{topic.pk}-scroller")
    assert scroller.evaluate(
        "s => s.scrollHeight - s.scrollTop - s.clientHeight"
    ) == pytest.approx(0, abs=2)


def test_reading_further_up_the_line_at_the_bottom_edge_stays_when_the_keyboard_opens(
    new_context, topic, aiko
):
    page = new_context(**PHONE).new_page()
    log_in(page, aiko.nickname)
    open_topic(page, topic)
    scroller = page.locator(f"#topic-{topic.pk}-scroller")
    scroller.evaluate("s => { s.scrollTop = s.scrollHeight / 3; }")
    page.wait_for_timeout(200)
    # The message under the log's bottom edge, before and after.
    under_bottom_edge = """s => {
      const edge = s.getBoundingClientRect().bottom;
      const above = [...s.querySelectorAll("article.msg")].filter(
        (a) => a.getBoundingClientRect().top < edge);
      const last = above[above.length - 1];
      if (!last) return null;
      return [last.id, Math.round(edge - last.getBoundingClientRect().top)];
    }"""
    before = scroller.evaluate(under_bottom_edge)
    assert before
    page.get_by_role("textbox", name="Message").focus()
    page.set_viewport_size({"width": 360, "height": 420})
    page.wait_for_timeout(200)
    assert scroller.evaluate(under_bottom_edge) == before
