"""Photos in topics, in real browsers: aiko sends a photo from the composer's
"Add photos" picker; ben, with the topic open, sees it arrive live with its
thumbnail and opens it full size in the lightbox. A send that fails keeps its
text and its photo at the composer for a retry.
"""

import time

import pytest
from playwright.sync_api import expect

from chat.models import Message, MessagePhoto
from tests.e2e import axe
from tests.e2e.pages import log_in, open_topic, wait_until
from tests.factories import TopicFactory, coffee_club
from tests.photos.files import camera_jpeg, jpeg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000


@pytest.fixture
def topic(aiko, ben):
    community = coffee_club(aiko, ben)
    return TopicFactory(community=community, title="Photo chat", created_by=aiko)


def tab(new_context, nickname, topic, **options):
    page = new_context(**options).new_page()
    log_in(page, nickname)
    open_topic(page, topic)
    return page


def a_photo(name="sunset.jpg", data=None):
    return {"name": name, "mimeType": "image/jpeg", "buffer": data or camera_jpeg()}


def composer(page):
    return page.get_by_role("textbox", name="Message", exact=True)


def chosen(page):
    return page.get_by_role("list", name="Photos to send").get_by_role("listitem")


def wait_loaded(page, selector: str) -> None:
    """The image `selector` names has loaded and has pixels."""
    wait_until(
        page,
        f"(() => {{ const i = document.querySelector({selector!r});"
        " return !!i && i.complete && i.naturalWidth > 0; })()",
        timeout=WAIT_MS,
    )


def test_a_photo_sent_from_one_browser_arrives_live_and_opens_full_size(
    new_context, topic, aiko, ben
):
    aiko_page = tab(new_context, "aiko", topic)
    ben_page = tab(new_context, "ben", topic)

    aiko_page.get_by_label("Add photos", exact=True).set_input_files([a_photo()])
    expect(chosen(aiko_page)).to_have_count(1)
    expect(aiko_page.get_by_role("button", name="Remove photo 1")).to_be_visible()
    assert axe.violations(aiko_page, include="form.composer") == []
    composer(aiko_page).fill("From the roof")
    with aiko_page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/send/")
    ) as answer:
        aiko_page.get_by_role("button", name="Send", exact=True).click()
    assert answer.value.status == 201

    message = Message.objects.get(topic=topic)
    photo = MessagePhoto.objects.get(message=message)
    # Sent: the composer is empty again, the picker too.
    expect(composer(aiko_page)).to_have_value("")
    expect(chosen(aiko_page)).to_have_count(0)
    # Ben's open tab shows it live, with its thumbnail loaded.
    thumbnail = ben_page.get_by_role("img", name="Photo 1 of 1 from aiko")
    expect(thumbnail).to_be_visible()
    assert ben_page.evaluate("performance.getEntriesByType('navigation').length") == 1
    wait_loaded(ben_page, f"#message-{message.pk} .msg-photo img")
    assert thumbnail.get_attribute("width") == str(photo.thumb_width)
    assert axe.violations(ben_page) == []

    # Full size in the lightbox; Escape closes it and focus comes back.
    ben_page.locator(f"#message-{message.pk} a.msg-photo").click()
    dialog = ben_page.get_by_role("dialog", name="Photo 1 of 1 from aiko")
    expect(dialog).to_be_visible()
    big = dialog.get_by_role("img", name="Photo 1 of 1 from aiko")
    expect(big).to_have_attribute("src", photo.display_url)
    wait_loaded(ben_page, "#photo-lightbox img")
    assert (
        ben_page.evaluate("document.querySelector('#photo-lightbox img').naturalWidth")
        == photo.width
    )
    assert axe.violations(ben_page, include="#photo-lightbox") == []
    ben_page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert ben_page.evaluate(
        "document.activeElement && document.activeElement.matches('a.msg-photo')"
    )


def test_arrow_keys_move_between_a_messages_photos_in_the_lightbox(
    new_context, topic, aiko
):
    page = tab(new_context, "aiko", topic)
    page.get_by_label("Add photos", exact=True).set_input_files(
        [
            a_photo(f"p{i}.jpg", jpeg(size=(80, 60), color=(i * 60, 80, 40)))
            for i in range(3)
        ]
    )
    expect(chosen(page)).to_have_count(3)
    # Photos alone: the text is optional.
    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        page.get_by_role("button", name="Send", exact=True).click()
    assert answer.value.status == 201
    page.get_by_role("img", name="Photo 2 of 3 from aiko").click()

    dialog = page.get_by_role("dialog")
    expect(dialog).to_have_accessible_name("Photo 2 of 3 from aiko")
    page.keyboard.press("ArrowRight")
    expect(dialog).to_have_accessible_name("Photo 3 of 3 from aiko")
    page.keyboard.press("ArrowRight")
    expect(dialog).to_have_accessible_name("Photo 1 of 3 from aiko")
    page.keyboard.press("ArrowLeft")
    expect(dialog).to_have_accessible_name("Photo 3 of 3 from aiko")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_a_fifth_photo_is_refused_at_the_composer(new_context, topic, aiko):
    page = tab(new_context, "aiko", topic)
    picker = page.get_by_label("Add photos", exact=True)

    picker.set_input_files([a_photo(f"p{i}.jpg", jpeg()) for i in range(3)])
    picker.set_input_files([a_photo(f"q{i}.jpg", jpeg()) for i in range(2)])

    expect(chosen(page)).to_have_count(4)
    expect(page.locator(f"#composer-{topic.pk}-error")).to_have_text(
        "A message has at most 4 photos."
    )
    # One removed: three left, and a fourth may come.
    page.get_by_role("button", name="Remove photo 2").click()
    expect(chosen(page)).to_have_count(3)


def test_a_photo_larger_than_the_server_takes_is_refused_at_the_composer(
    new_context, topic, aiko, settings
):
    page = tab(new_context, "aiko", topic)
    too_big = min(settings.PHOTOS_MAX_BYTES, settings.AVATAR_MAX_BYTES) + 1
    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)

    page.get_by_label("Add photos", exact=True).set_input_files(
        [a_photo("huge.jpg", b"\xff" * too_big)]
    )

    expect(page.locator(f"#composer-{topic.pk}-error")).to_have_text(
        f"A photo is at most {too_big // (1024 * 1024)} MB."
    )
    expect(chosen(page)).to_have_count(0)
    assert not [r for r in posts if r.url.endswith("/send/")]


def provoked(page, page_problems, needle):
    deadline = time.monotonic() + WAIT_MS / 1000
    while not any(needle in p for p in page_problems):
        if time.monotonic() > deadline:
            raise AssertionError(f"No console error with {needle!r}: {page_problems}")
        page.wait_for_timeout(20)
    for problem in [p for p in page_problems if needle in p]:
        page_problems.remove(problem)


def test_a_failed_upload_says_so_and_keeps_its_text_and_photo_for_a_retry(
    new_context, topic, aiko, page_problems
):
    page = tab(new_context, "aiko", topic)
    page.route("**/send/", lambda route: route.abort())
    page.get_by_label("Add photos", exact=True).set_input_files([a_photo()])
    composer(page).fill("Will this go?")

    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.locator(f"#composer-{topic.pk}-error")).to_have_text(
        "Not sent: check your connection and try again."
    )
    # The browser and htmx log the failed request as errors: provoked here.
    for needle in ("net::ERR_FAILED", "htmx:afterRequest", "htmx:sendError"):
        provoked(page, page_problems, needle)
    expect(composer(page)).to_have_value("Will this go?")
    expect(chosen(page)).to_have_count(1)
    expect(page.locator("[data-photo-progress]")).to_be_hidden()
    assert Message.objects.count() == 0

    # The retry sends both, once.
    page.unroute("**/send/")
    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        page.get_by_role("button", name="Send", exact=True).click()
    assert answer.value.status == 201
    message = Message.objects.get()
    assert message.body == "Will this go?" and message.photos.count() == 1
    expect(page.get_by_role("img", name="Photo 1 of 1 from aiko")).to_be_visible()
    expect(chosen(page)).to_have_count(0)


def test_offline_photos_are_refused_at_the_composer_and_kept(
    new_context, topic, aiko, page_problems
):
    context = new_context()
    page = context.new_page()
    log_in(page, "aiko")
    open_topic(page, topic)
    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    page.get_by_label("Add photos", exact=True).set_input_files([a_photo()])
    composer(page).fill("Later")
    context.set_offline(True)

    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.locator(f"#composer-{topic.pk}-error")).to_have_text(
        "Photos can be sent when you are back online."
    )
    expect(composer(page)).to_have_value("Later")
    expect(chosen(page)).to_have_count(1)
    # Not queued either (the outbox holds text only), and nothing was sent.
    expect(page.locator(".outbox-item")).to_have_count(0)
    assert not [r for r in posts if r.url.endswith("/send/")]

    context.set_offline(False)
    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        page.get_by_role("button", name="Send", exact=True).click()
    assert answer.value.status == 201
    assert Message.objects.get().photos.count() == 1
    # Going offline failed the page's read-position report (chat.js), which
    # the browser logs: caused here on purpose, not by the composer.
    page_problems[:] = [
        p
        for p in page_problems
        if "ERR_INTERNET_DISCONNECTED" not in p and "Failed to fetch" not in p
    ]


# Make a JPEG file in the page (from a canvas) and hand it to the composer as a
# paste, or as a drop, as the browser does for a real one.
PASTE_AND_DROP = """
async ([kind, selector]) => {
  const canvas = document.createElement("canvas");
  canvas.width = 40; canvas.height = 30;
  canvas.getContext("2d").fillRect(0, 0, 40, 30);
  const blob = await new Promise((done) => canvas.toBlob(done, "image/jpeg"));
  const transfer = new DataTransfer();
  transfer.items.add(new File([blob], kind + ".jpg", { type: "image/jpeg" }));
  const target = document.querySelector(selector);
  const options = { bubbles: true, cancelable: true };
  const event = kind === "paste"
    ? new ClipboardEvent("paste", { ...options, clipboardData: transfer })
    : new DragEvent("drop", { ...options, dataTransfer: transfer });
  target.dispatchEvent(event);
  return event.defaultPrevented;
}
"""


def test_a_pasted_and_a_dropped_image_become_photos_of_the_message(
    new_context, topic, aiko
):
    page = tab(new_context, "aiko", topic, viewport={"width": 1280, "height": 800})
    textarea = f"#composer-{topic.pk}-body"

    assert page.evaluate(PASTE_AND_DROP, ["paste", textarea])
    assert page.evaluate(PASTE_AND_DROP, ["drop", f"#composer-{topic.pk}"])

    expect(chosen(page)).to_have_count(2)
    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        composer(page).press("Enter")  # photos alone: Enter sends them too
    assert answer.value.status == 201
    message = Message.objects.get()
    assert message.body == "" and message.photos.count() == 2
