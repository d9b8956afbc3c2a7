"""Who's here and typing, in real browsers (presence/here.py,
presence/typing.py, static/js/presence.js): aiko and ben, each in their own
browser context, on the same topic page through a real Daphne. Each sees the
other in the "Who's here" list without reloading; aiko sees "ben is typing…"
while ben types, and it goes 5 s after he stops; a page closed takes its
member off the other's list.
"""

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import RECORD_SOCKETS, log_in, open_topic, wait_until
from tests.factories import TopicFactory, coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def topic(aiko, ben):
    community = coffee_club(aiko, ben)
    return TopicFactory(community=community, title="Live chat", created_by=aiko)


def tab(new_context, nickname, topic):
    context = new_context()
    context.add_init_script(RECORD_SOCKETS)
    page = context.new_page()
    log_in(page, nickname)
    open_topic(page, topic)
    return page


def whos_here(page):
    return page.get_by_role("list", name="Who's here", exact=True)


def test_two_members_see_each_other_here_and_one_sees_the_other_typing(
    new_context, topic
):
    aiko = tab(new_context, "aiko", topic)
    ben = tab(new_context, "ben", topic)

    # Each sees both, aiko without reloading (ben came after her page).
    expect(whos_here(aiko).get_by_role("link")).to_have_text(["aiko", "ben"])
    expect(whos_here(ben).get_by_role("link")).to_have_text(["aiko", "ben"])
    expect(whos_here(aiko).get_by_role("link", name="ben")).to_have_attribute(
        "href", "/members/ben/"
    )

    # ben types: aiko's page says so, in a polite live region; his own does not.
    typing_line = aiko.locator("[data-typing]")
    expect(typing_line).to_have_attribute("aria-live", "polite")
    ben.get_by_role("textbox", name="Message", exact=True).press_sequentially(
        "On my way", delay=50
    )
    expect(typing_line).to_have_text("ben is typing…")
    # His own page got the notice too, and shows nothing.
    wait_until(ben, "window.__frames.some(f => f.includes('id=\"live-typing\"'))")
    # Read now, not waited for: the line empties itself 5 s later anyway.
    assert ben.locator("[data-typing]").text_content() == ""

    # Gone 5 s after he stopped.
    expect(typing_line).to_be_empty(timeout=8_000)

    # ben leaves: off aiko's list at once.
    ben.close()
    expect(whos_here(aiko).get_by_role("link")).to_have_text(["aiko"])


RECORD_SENT = """
(() => {
  window.__sent = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.__sent.push([Date.now(), String(data)]);
    return send.call(this, data);
  };
})();
"""


def test_typing_frames_go_out_at_most_every_three_seconds(new_context, topic):
    context = new_context()
    context.add_init_script(RECORD_SENT)
    ben = context.new_page()
    log_in(ben, "ben")
    open_topic(ben, topic)

    box = ben.get_by_role("textbox", name="Message", exact=True)
    box.press_sequentially("x" * 40, delay=100)  # four seconds of typing
    sent = ben.evaluate("window.__sent.filter(([t, d]) => d.includes('typing'))")

    assert len(sent) == 2, sent
    assert sent[1][0] - sent[0][0] >= 3000
    assert sent[0][1] == f'{{"type":"typing","topic":{topic.pk}}}'
