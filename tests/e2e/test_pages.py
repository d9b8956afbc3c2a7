"""Every main page in a real browser, on a desktop in English and on a 360 x 740
phone in Japanese: each loads under the Content-Security-Policy with no
console error and no violation (the collector in conftest.py fails the test on
any), a logged-in page's live socket opens (connect-src allows it), and
nothing on the phone is wider than the screen."""

import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from accounts.actions import create_invitation, make_friends
from chat import text
from tests import services
from tests.conftest import PASSWORD
from tests.e2e.pages import expect_live_open, log_in
from tests.factories import MessageFactory, TopicFactory, coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"viewport": {"width": 1280, "height": 800}, "locale": "en-US"}
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "ja-JP",
}


@pytest.fixture
def site(aiko, ben):
    """aiko owns a community with a topic and talks there with ben, her friend;
    she has invited someone."""
    make_friends(aiko, ben)
    community = coffee_club(
        aiko, ben, description="Coffee, and the people who drink it."
    )
    topic = TopicFactory(
        community=community, title="Beans of the week", created_by=aiko
    )
    for author, body in ((aiko, "Ethiopian this week."), (ben, "Lovely, @aiko!")):
        MessageFactory(
            topic=topic, author=author, body=body, body_html=text.render(body, [])
        )
    create_invitation(inviter=aiko, note="for chika")
    return community, topic


def member_pages(community, topic):
    """(name, path) of every main page a member sees."""
    return [
        ("home", "/"),
        ("communities", "/communities/"),
        ("community", community.get_absolute_url()),
        ("members", f"/communities/{community.pk}/members/"),
        ("topic", topic.get_absolute_url()),
        ("invitations", "/invitations/"),
        ("friends", "/friends/"),
        ("my page", "/members/aiko/"),
        ("profile edit", "/settings/profile/"),
        ("password change", "/accounts/password/change/"),
        ("notifications", "/notifications/"),
    ]


def fits(page, width) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, (page.url, overflow)


def require_japanese_font() -> None:
    """Widths of Japanese text mean something only when a Japanese font draws
    it (otherwise each character is a narrower placeholder box)."""
    fc_list = shutil.which("fc-list")
    found = (
        fc_list
        and subprocess.run(
            [fc_list, ":lang=ja"], capture_output=True, text=True, check=False
        ).stdout.strip()
    )
    if not found:
        services.missing("No Japanese font (apt-get install fonts-ipafont-gothic)")


# How many lines an element's text takes.
LINES = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return new Set(Array.from(range.getClientRects(), r => Math.round(r.top))).size;
}"""

# Whether a <select> shows its chosen option whole: the option's text, in the
# select's own font, fits the box left for it beside the arrow (about 20 px).
# A select's scrollWidth says nothing: it never scrolls.
SELECT_TEXT_FITS = """select => {
  const style = getComputedStyle(select);
  const context = document.createElement("canvas").getContext("2d");
  context.font = style.font;
  const text = context.measureText(select.selectedOptions[0].text).width;
  const box = select.clientWidth - parseFloat(style.paddingLeft)
    - parseFloat(style.paddingRight);
  return {text, box, fits: text <= box - 20};
}"""


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop", "phone-ja"])
def test_every_main_page_loads_with_no_console_error_or_csp_violation(
    new_context, page_problems, site, aiko, device
):
    community, topic = site
    _invitation, token = create_invitation(inviter=aiko)
    width = device["viewport"]["width"]
    page = new_context(**device).new_page()

    page.goto("/accounts/login/")
    assert (
        "frame-ancestors 'none'"
        in (page.request.get("/accounts/login/").headers["content-security-policy"])
    )
    fits(page, width)
    if device is DESKTOP:
        log_in(page, "aiko")
    else:
        page.locator("#id_login").fill("aiko")
        page.locator("#id_password").fill(PASSWORD)
        page.locator("form:not(.language-switcher) button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))

    for name, path in member_pages(community, topic):
        page.goto(path)
        expect_live_open(page)
        fits(page, width)
        assert not page_problems, (name, page_problems)

    page.goto("/communities/")
    expect_live_open(page)
    with page.expect_response(lambda r: "q=coffee" in r.url):
        page.locator("#id_q").fill("coffee")
    expect(page.locator("#results .community-name")).to_have_text(
        ["Shimokita Coffee Club"]
    )
    # The answer went inside the one #results, which stayed where it was.
    assert page.evaluate("document.querySelectorAll('#results').length") == 1
    assert page.evaluate("document.querySelectorAll('[aria-live]').length") == 1

    page.context.clear_cookies()
    page.goto(f"/join/{token}/")
    fits(page, width)
    # A form sent back with its errors is a page in normal use too (it was a
    # 400, which the browser logs as a failed load).
    page.locator("#id_nickname").fill("hana")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD + "x")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("main button[type=submit]").click()
    assert answer.value.status == 200
    expect(page.locator("#id_password2_error")).to_be_visible()
    expect(page.locator("#id_password2")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_password2")).to_have_attribute(
        "aria-describedby", "id_password2_error"
    )
    fits(page, width)


def test_on_a_360_px_phone_in_japanese_choices_and_labels_show_whole(new_context, site):
    require_japanese_font()
    page = new_context(**PHONE).new_page()
    page.goto("/accounts/login/")
    page.locator("#id_login").fill("aiko")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form:not(.language-switcher) button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))

    page.goto("/communities/")
    for select in ("#id_category", "#id_sort"):
        box = page.locator(select)
        # The longest choice of each, shown in the select itself.
        longest = box.evaluate(
            "s => { const o = Array.from(s.options)"
            ".reduce((a, b) => b.text.length > a.text.length ? b : a);"
            " s.value = o.value; return o.text; }"
        )
        measured = box.evaluate(SELECT_TEXT_FITS)
        assert measured["fits"], (select, longest, measured)

    page.goto("/members/aiko/")
    change = page.get_by_role("link", name="パスワードを変更")
    assert change.evaluate(LINES) == 1
    page.goto("/accounts/password/change/")
    for control in (
        page.get_by_role("heading", name="パスワードを変更"),
        page.get_by_role("button", name="パスワードを変更"),
    ):
        assert control.evaluate(LINES) == 1


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop", "phone-ja"])
def test_forgot_your_password_is_a_target_of_at_least_24_px(new_context, aiko, device):
    """axe's target-size rule (WCAG 2.5.8): 24 x 24 CSS px at least."""
    page = new_context(**device).new_page()
    page.goto("/accounts/login/")
    link = page.locator(".form-link a")
    expect(link).to_have_attribute("href", "/accounts/password/reset/")
    box = link.bounding_box()
    assert box["height"] >= 24 and box["width"] >= 24, box

    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Forgot your password?" if device is DESKTOP else "パスワードをお忘れですか？"
    )


def test_the_admin_loads_with_no_console_error_or_csp_violation(
    new_context, member_factory, ben
):
    member_factory(nickname="boss", is_staff=True, is_superuser=True)
    page = new_context(**DESKTOP).new_page()
    log_in(page, "boss")

    for path in (
        "/admin/",
        "/admin/accounts/member/",
        f"/admin/accounts/member/{ben.pk}/change/",
    ):
        page.goto(path)
        expect(page.locator("#site-name")).to_be_visible()
        page.wait_for_load_state("load")
