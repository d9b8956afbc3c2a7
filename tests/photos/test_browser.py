"""Albums in a real browser through a real Daphne: aiko makes a friends-only
album with the form, picks two photos (one a sideways JPEG with GPS) in one
file picker and sees their thumbnails load; ben, her friend, sees the album
and its photo; fumi, who knows nobody, gets "not found" at both addresses and
no bytes of the file."""

import re

import pytest
from playwright.sync_api import expect

from accounts.actions import make_friends
from photos.models import Album, Photo
from tests.conftest import MemberFactory
from tests.e2e import conftest as e2e
from tests.e2e.pages import log_in
from tests.photos.files import camera_jpeg, opened, png

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The browser tests' fixtures (tests/e2e/conftest.py), here too.
browser = e2e.browser
daphne_args = e2e.daphne_args
live_server_url = e2e.live_server_url
new_context = e2e.new_context
page_problems = e2e.page_problems
_broadcasts = e2e.broadcasts_run_outside_the_browser_thread

# A loaded image has a width; a refused or broken one has none.
ALL_LOADED = """(selector) => [...document.querySelectorAll(selector)].every(
  (img) => img.complete && img.naturalWidth > 0)"""


@pytest.fixture(autouse=True)
def _server_media_root(monkeypatch, settings, _media_root):
    # The server writes where this test looks (tests/servers.py passes the
    # environment on).
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))


@pytest.fixture
def people(aiko, ben):
    make_friends(aiko, ben)
    return {"aiko": aiko, "ben": ben, "fumi": MemberFactory(nickname="fumi")}


def browser_of(new_context, nickname):
    page = new_context(viewport={"width": 390, "height": 844}).new_page()
    log_in(page, nickname)
    return page


def test_a_friends_only_album_is_made_filled_and_seen_only_by_friends(
    people, new_context, page_problems, tmp_path
):
    sideways = tmp_path / "IMG_0001.JPG"
    sideways.write_bytes(camera_jpeg((400, 200), orientation=6))
    square = tmp_path / "square.png"
    square.write_bytes(png((300, 300)))

    aiko = browser_of(new_context, "aiko")
    aiko.goto("/members/aiko/")
    aiko.get_by_role("link", name="New album", exact=True).click()
    aiko.get_by_label("Title", exact=True).fill("Kyoto")
    aiko.get_by_label("Who can see this", exact=True).select_option(label="Friends")
    aiko.get_by_role("button", name="Create", exact=True).click()
    expect(aiko.get_by_role("heading", level=1)).to_have_text("Add photos")
    aiko.get_by_label("Photos", exact=True).set_input_files([sideways, square])
    aiko.get_by_label("Caption", exact=True).fill("Temples")
    aiko.get_by_role("button", name="Upload", exact=True).click()

    expect(aiko.get_by_role("heading", level=1)).to_have_text("Kyoto")
    expect(aiko.get_by_text("2 photos were added.")).to_be_visible()
    thumbnails = aiko.locator(".photo-grid img")
    expect(thumbnails).to_have_count(2)
    aiko.wait_for_function(ALL_LOADED, arg=".photo-grid img")
    album = Album.objects.get(title="Kyoto")
    assert album.audience == "friends"
    first = Photo.objects.filter(album=album).order_by("id").first()
    with first.display.open("rb") as f:
        stored = opened(f.read())
    assert stored.size == (200, 400) and not stored.getexif()

    ben = browser_of(new_context, "ben")
    ben.goto(album.get_absolute_url())
    expect(ben.get_by_role("heading", level=1)).to_have_text("Kyoto")
    ben.locator(".photo-grid a").first.click()
    expect(ben).to_have_url(re.compile(rf"/photos/{first.pk}/$"))
    photo = ben.get_by_role("img", name="Temples")
    expect(photo).to_be_visible()
    ben.wait_for_function(ALL_LOADED, arg=".photo-view img")

    fumi = browser_of(new_context, "fumi")
    for url in (album.get_absolute_url(), f"/photos/{first.pk}/display/"):
        response = fumi.goto(url)
        assert response.status == 404
        assert not response.body().startswith(b"\xff\xd8")
    # The browser logs the 404s it was sent on purpose (and the favicon of
    # Django's plain 404 page, which it may ask for later: closed, it cannot).
    fumi.close()
    page_problems[:] = [p for p in page_problems if "404" not in p]
