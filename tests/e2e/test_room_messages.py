"""The topic's messages as a member reads them, in real browsers: on a phone
(360 x 740, touch, Japanese) and a desktop (1280 x 800, English).

Grouping, day separators and the times are laid out by the page
(static/js/chat.js) in the member's time zone, from each message's data-at:
a live fragment is the same for everyone. One's own messages and a mention
of oneself are styled by rules the page builds from its data-member and
data-member-url. Actions: a hover toolbar on a desktop, a long press on a
phone, the "More actions" menu everywhere (and the keyboard reaches all of
it). Reading: "Jump to latest" when scrolled up as messages arrive, never
moving what is read; opening a topic at its first unread message.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from accounts.models import Member
from chat import actions, text
from chat.models import Message
from communities.models import TopicRead
from tests.e2e.pages import DESKTOP, PHONE, log_in, open_topic, room_tab, wait_until
from tests.factories import MessageFactory, TopicFactory, coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def topic(aiko, ben, chika):
    community = coffee_club(aiko, ben, chika)
    return TopicFactory(community=community, title="Morning brews", created_by=aiko)


def seed(topic, author, body, mentioned=(), **fields):
    return MessageFactory(
        topic=topic,
        author=author,
        body=body,
        body_html=text.render(body, list(mentioned)),
        **fields,
    )


def article(page, message):
    return page.locator(f"#message-{message.pk}")


def scroller(page, topic):
    return page.locator(f"#topic-{topic.pk}-scroller")


def in_japanese(msgid):
    with translation.override("ja"):
        return translation.gettext(msgid)


def focused_name(page):
    return page.evaluate(
        "(() => { const el = document.activeElement;"
        " return (el.getAttribute('aria-label') || el.textContent).trim(); })()"
    )


# --- Phone ---------------------------------------------------------------------


def test_phone_groups_by_author_and_separates_the_days_of_tokyo(
    new_context, topic, aiko, ben
):
    now = timezone.now()
    midnight = timezone.localtime(now, TOKYO).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    long_ago = seed(
        topic, aiko, "An old hello", created_at=midnight - timedelta(days=5)
    )
    late = seed(topic, ben, "Still up?", created_at=midnight - timedelta(minutes=2))
    later = seed(topic, ben, "Anyone?", created_at=midnight - timedelta(minutes=1))
    # Between Tokyo's midnight and now.
    today = seed(
        topic,
        ben,
        "Good morning! https://example.com/" + "a-very-long-path-" * 6,
        created_at=midnight + (now - midnight) / 2,
    )
    reply = seed(
        topic,
        aiko,
        "Morning " + "W" * 80,
        reply_to=today,
        created_at=midnight + (now - midnight) * 3 / 4,
    )
    page = room_tab(new_context, "aiko", topic, language="ja", **PHONE)

    separators = page.get_by_role("log").get_by_role("separator")
    expect(separators).to_have_count(3)
    labels = separators.evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    assert labels[1:] == [in_japanese("Yesterday"), in_japanese("Today")], labels
    # An older day is its date, written for the language.
    assert re.search(r"\d+年\d+月\d+日", labels[0]), labels
    expect(page.get_by_role("separator", name=in_japanese("Today"))).to_be_visible()
    # Each separator comes right before the first message of its day.
    order = page.eval_on_selector_all(
        "[role=log] > *",
        "els => els.map(e => e.matches('article') ? e.id : e.getAttribute('role'))",
    )
    assert order == [
        "separator",
        f"message-{long_ago.pk}",
        "separator",
        f"message-{late.pk}",
        f"message-{later.pk}",
        "separator",
        f"message-{today.pk}",
        f"message-{reply.pk}",
    ], order
    # Ben's two late messages a minute apart: one header; the next day's starts
    # a new one.
    head = lambda m: article(page, m).locator(".msg-head")  # noqa: E731
    expect(head(late)).to_be_visible()
    assert head(later).evaluate("h => h.getBoundingClientRect().height") <= 1
    assert article(page, later).evaluate("a => a.classList.contains('msg-cont')")
    expect(head(today)).to_be_visible()
    expect(head(reply)).to_be_visible()
    # Times in the member's zone (Tokyo).
    expect(head(late).locator("time")).to_have_text("23:58")
    # An edit replaces the message (a new node, live): it keeps its place
    # under ben's header.
    actions.edit_message(message=later, body="Anyone awake?")
    expect(article(page, later).locator(".msg-body")).to_have_text("Anyone awake?")
    expect(article(page, later)).to_have_class(re.compile(r"\bmsg-cont\b"))
    expect(article(page, later).locator(".msg-head time")).to_have_text("23:59")

    # Nothing is wider than the phone.
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth,"
        f" document.getElementById('topic-{topic.pk}-scroller').scrollWidth,"
        f" document.getElementById('topic-{topic.pk}-scroller').clientWidth]"
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[3], widths


def test_phone_a_long_press_opens_the_actions_and_like_is_in_them(
    new_context, topic, aiko, ben
):
    message = seed(topic, ben, "Pour-over or espresso?")
    page = room_tab(new_context, "aiko", topic, language="ja", **PHONE)
    shown = article(page, message)
    like_count = page.locator(f"#like-count-{message.pk}")
    # No like yet: no count, and no like button takes room on a phone.
    expect(shown.locator(".msg-likes")).to_be_hidden()
    expect(
        shown.get_by_role("button", name=in_japanese("Like!"), exact=True)
    ).to_be_hidden()
    box = shown.locator(".msg-body").bounding_box()
    x, y = box["x"] + 10, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)

    def touch(kind, points):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    # A tap is no long press.
    touch("touchStart", [{"x": x, "y": y}])
    touch("touchEnd", [])
    page.wait_for_timeout(700)
    expect(shown.get_by_role("menu")).to_be_hidden()
    # A press that moves (a scroll) is none either.
    touch("touchStart", [{"x": x, "y": y}])
    touch("touchMove", [{"x": x, "y": y - 40}])
    page.wait_for_timeout(700)
    touch("touchEnd", [])
    expect(shown.get_by_role("menu")).to_be_hidden()

    touch("touchStart", [{"x": x, "y": y}])
    page.wait_for_timeout(700)
    touch("touchEnd", [])

    menu = shown.get_by_role("menu")
    expect(menu).to_be_visible()
    # A sheet at the bottom of the screen.
    sheet = menu.bounding_box()
    assert sheet["y"] + sheet["height"] >= 740 - 2 and sheet["width"] >= 350, sheet
    like = menu.get_by_role("menuitemcheckbox", name=in_japanese("Like!"))
    expect(like).to_have_attribute("aria-checked", "false")
    expect(menu.get_by_role("menuitem", name=in_japanese("Report"))).to_be_visible()
    like.tap()

    expect(menu).to_be_hidden()
    expect(like_count).to_have_text("1")
    expect(shown.locator(".msg-likes")).to_be_visible()
    expect(shown.locator(".msg-likes")).to_contain_text("1")


# --- Desktop -------------------------------------------------------------------


def test_desktop_own_messages_mentions_of_me_and_the_like_chip(
    new_context, topic, aiko, ben, chika
):
    mine = seed(topic, aiko, "Morning all")
    to_me = seed(topic, ben, "@aiko try the Kenyan", mentioned=[aiko])
    to_chika = seed(topic, ben, "@chika you too", mentioned=[chika])
    edited = seed(topic, chika, "Will do", edited_at=timezone.now())
    page = room_tab(new_context, "aiko", topic, **DESKTOP)
    main = lambda m: article(page, m).locator(".msg-main")  # noqa: E731
    style = lambda locator, prop: locator.evaluate(  # noqa: E731
        "(el, p) => getComputedStyle(el)[p]", prop
    )

    # One's own message: another background, on the right.
    assert style(main(mine), "backgroundColor") != style(
        main(to_chika), "backgroundColor"
    )
    log_box = page.get_by_role("log").bounding_box()
    mine_box, theirs_box = main(mine).bounding_box(), main(to_chika).bounding_box()
    assert log_box["x"] + log_box["width"] - (mine_box["x"] + mine_box["width"]) < 4
    assert theirs_box["x"] - log_box["x"] > 30  # after the avatar

    # A mention of me stands out; one of chika does not.
    me_link = article(page, to_me).locator("a.mention")
    chika_link = article(page, to_chika).locator("a.mention")
    assert style(me_link, "backgroundColor") != style(chika_link, "backgroundColor")
    assert style(main(to_me), "boxShadow") != style(main(to_chika), "boxShadow")

    # Avatars, decorative.
    expect(article(page, to_me).locator(".msg-avatar .avatar")).to_have_count(1)

    # "(edited)": the edit's time on hover (title) and when pressed.
    edited_button = article(page, edited).get_by_role("button", name="(edited)")
    assert re.search(r"\d\d:\d\d", edited_button.get_attribute("title") or "")
    edited_at = page.locator(f"#message-{edited.pk}-edited-at")
    expect(edited_at).to_be_hidden()
    edited_button.click()
    expect(edited_at).to_be_visible()
    expect(edited_button).to_have_attribute("aria-expanded", "true")

    # The like count shows only when someone likes it; hovering shows the
    # toolbar, whose Like! likes.
    chip = article(page, to_me).locator(".msg-likes")
    expect(chip).to_be_hidden()
    expect(page.locator(f"#like-count-{to_me.pk}")).to_have_text("")
    toolbar_like = article(page, to_me).get_by_role("button", name="Like!", exact=True)
    assert style(article(page, to_me).locator(".msg-tools"), "opacity") == "0"
    article(page, to_me).hover()
    expect(toolbar_like).to_be_visible()
    wait_until(
        page,
        f"getComputedStyle(document.querySelector('#message-{to_me.pk} .msg-tools'))"
        ".opacity === '1'",
    )
    toolbar_like.click()
    expect(toolbar_like).to_have_attribute("aria-pressed", "true")
    expect(chip).to_be_visible()
    expect(page.locator(f"#like-count-{to_me.pk}")).to_have_text("1")


def test_desktop_jump_to_latest_when_scrolled_up_as_messages_arrive(
    new_context, topic, aiko, ben
):
    start = timezone.now() - timedelta(hours=1)
    for n in range(40):
        seed(
            topic,
            ben if n % 3 else aiko,
            f"Message {n}",
            created_at=start + timedelta(minutes=n),
        )
    page = room_tab(new_context, "aiko", topic, **DESKTOP)
    ben_page = room_tab(new_context, "ben", topic, **DESKTOP)
    log = scroller(page, topic)
    jump = page.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_hidden()
    at_bottom = "s => s.scrollHeight - s.scrollTop - s.clientHeight < 2"
    assert log.evaluate(at_bottom)

    log.evaluate("s => { s.scrollTop = 300; }")
    page.wait_for_timeout(100)
    for body in ("Anyone here?", "Hello?"):
        ben_page.get_by_role("textbox", name="Message", exact=True).fill(body)
        ben_page.get_by_role("textbox", name="Message", exact=True).press("Enter")
        expect(page.locator("article.msg", has_text=body)).to_have_count(1)

    expect(jump).to_be_visible()
    expect(page.locator(f"#topic-{topic.pk}-jump-count")).to_have_text("2")
    # What was being read did not move.
    assert log.evaluate("s => s.scrollTop") == 300

    jump.click()
    expect(jump).to_be_hidden()
    wait_until(
        page,
        f"(s => s.scrollHeight - s.scrollTop - s.clientHeight < 2)"
        f"(document.getElementById('topic-{topic.pk}-scroller'))",
    )
    # It was marked read.
    last = Message.objects.get(body="Hello?")
    page.wait_for_timeout(1500)
    assert TopicRead.objects.get(topic=topic, member=aiko).last_read_id == last.pk

    # Scrolling to the bottom oneself hides it too.
    log.evaluate("s => { s.scrollTop = 200; }")
    page.wait_for_timeout(100)
    ben_page.get_by_role("textbox", name="Message", exact=True).fill("Third")
    ben_page.get_by_role("textbox", name="Message", exact=True).press("Enter")
    expect(jump).to_be_visible()
    expect(page.locator(f"#topic-{topic.pk}-jump-count")).to_have_text("1")
    log.evaluate("s => { s.scrollTop = s.scrollHeight; }")
    expect(jump).to_be_hidden()


def test_desktop_opening_a_topic_lands_at_the_first_unread_message(
    new_context, topic, aiko, ben
):
    start = timezone.now() - timedelta(hours=1)
    messages = [
        seed(topic, ben, f"Line {n}", created_at=start + timedelta(minutes=n))
        for n in range(45)
    ]
    TopicRead.objects.create(topic=topic, member=aiko, last_read_id=messages[9].pk)
    page = room_tab(new_context, "aiko", topic, **DESKTOP)
    divider = page.locator("#new-messages-divider")
    expect(divider).to_be_visible()
    offset = page.evaluate(
        "(() => { const d = document.getElementById('new-messages-divider');"
        f" const s = document.getElementById('topic-{topic.pk}-scroller');"
        " return d.getBoundingClientRect().top - s.getBoundingClientRect().top; })()"
    )
    assert 0 <= offset <= 40, offset
    expect(article(page, messages[10])).to_be_in_viewport()
    assert not scroller(page, topic).evaluate(
        "s => s.scrollHeight - s.scrollTop - s.clientHeight < 80"
    )
    expect(page.get_by_role("button", name="Jump to latest")).to_be_visible()


@pytest.mark.parametrize("own", [True, False], ids=["own", "others"])
def test_desktop_the_keyboard_alone_reaches_every_action_of_a_message(
    new_context, topic, aiko, ben, own
):
    # Ben is a plain member (aiko owns the community: her menus have more).
    message = seed(topic, ben if own else aiko, "Keyboard check")
    page = room_tab(new_context, "ben", topic, **DESKTOP)
    menu_button = f"message-{message.pk}-menu-button"
    reached = []
    for _ in range(120):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('article') !== null"):
            reached.append(focused_name(page))
        if page.evaluate(f"document.activeElement.id === '{menu_button}'"):
            break
    else:
        raise AssertionError(f"Tab never reached More actions: {reached}")
    # On the way: the toolbar's Like! and Reply, shown while focused.
    assert reached[-3:] == ["Like!", "Reply", "More actions"], reached
    tools = article(page, message).locator(".msg-tools")
    assert tools.evaluate("t => getComputedStyle(t).opacity") == "1"

    page.keyboard.press("Enter")
    items = [focused_name(page)]
    for _ in range(8):
        page.keyboard.press("ArrowDown")
        name = focused_name(page)
        if name == items[0]:
            break
        items.append(name)
    expected = ["Like!", "Reply", "Copy text"] + (
        ["Edit", "Delete"] if own else ["Report", "Block"]
    )
    assert items == expected, items

    # Like! from the menu, by keyboard.
    page.keyboard.press("Home")
    page.keyboard.press("Enter")
    expect(page.locator(f"#like-count-{message.pk}")).to_have_text("1")
    expect(page.locator(f"#like-{message.pk}")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert page.evaluate(f"document.activeElement.id === '{menu_button}'")
    # Escape closes the menu back to its button.
    page.keyboard.press("ArrowDown")
    expect(article(page, message).get_by_role("menu")).to_be_visible()
    page.keyboard.press("Escape")
    expect(article(page, message).get_by_role("menu")).to_be_hidden()
    assert page.evaluate(f"document.activeElement.id === '{menu_button}'")


def test_times_are_written_in_the_members_own_zone(new_context, topic, aiko, ben):
    Member.objects.filter(pk=aiko.pk).update(time_zone="Europe/London")
    at = datetime(2026, 3, 10, 1, 30, tzinfo=TOKYO)  # 16:30 the day before in London
    message = seed(topic, ben, "From Tokyo", created_at=at)
    page = room_tab(new_context, "aiko", topic, **DESKTOP)
    expect(article(page, message).locator(".msg-head time")).to_have_text("16:30")
    expect(page.get_by_role("separator")).to_have_attribute(
        "aria-label", re.compile("March 9")
    )


def test_copy_text_from_the_menu_puts_the_messages_words_on_the_clipboard(
    new_context, topic, aiko, ben
):
    """On a touch screen a long press opens the menu rather than selecting
    words: the menu copies them."""
    message = seed(topic, aiko, "Kenya AA, 15 g to 250 g")
    context = new_context(**PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    log_in(page, "ben")
    open_topic(page, topic)
    shown = article(page, message)
    shown.get_by_role("button", name="More actions").focus()
    page.keyboard.press("Enter")
    shown.get_by_role("menuitem", name="Copy text").click()
    expect(shown.get_by_role("menu")).to_be_hidden()
    assert page.evaluate("navigator.clipboard.readText()") == "Kenya AA, 15 g to 250 g"
