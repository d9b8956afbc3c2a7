"""The diary's pages and writes, for every audience and every kind of viewer:
the owner, a friend, a friend of a friend, another member, a member the owner
blocked and one who blocked the owner, and an anonymous visitor. An entry the
viewer may not see answers exactly as an id that does not exist (404)."""

import pytest
from django.urls import reverse

from accounts.audience import Audience
from diary.models import Comment, Entry, Like
from tests.diary.conftest import VIEWERS, make_entry

pytestmark = pytest.mark.django_db

# Audience -> the viewers who may see (and so comment on and like) the entry.
SEES = {
    Audience.MEMBERS: {"owner", "friend", "fof", "other"},
    Audience.FRIENDS_OF_FRIENDS: {"owner", "friend", "fof"},
    Audience.FRIENDS: {"owner", "friend"},
    Audience.ONLY_ME: {"owner"},
}
CASES = [(audience, role) for audience in SEES for role in VIEWERS]
HTMX = {"HTTP_HX_REQUEST": "true"}


def detail(entry):
    return reverse("diary:entry-detail", kwargs={"entry_id": entry.pk})


def to_login(response) -> bool:
    return response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(("audience", "role"), CASES)
def test_entry_page_answers_as_the_audience_says(cast, clients, audience, role):
    entry = make_entry(cast["owner"], audience, title="Secret picnic")

    response = clients[role].get(detail(entry))

    if role in SEES[audience]:
        assert response.status_code == 200
        assert "Secret picnic" in response.text
    else:
        assert response.status_code == 404
        assert "Secret picnic" not in response.text


def test_a_hidden_entry_answers_exactly_as_a_missing_one(cast, clients):
    entry = make_entry(cast["owner"], Audience.FRIENDS)
    missing = clients["other"].get(f"/diary/{entry.pk + 1000}/")
    hidden = clients["other"].get(detail(entry))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content


def test_anonymous_visitors_are_sent_to_log_in_everywhere(cast, clients):
    entry = make_entry(cast["owner"], Audience.MEMBERS)
    anonymous = clients["anonymous"]
    urls = [
        detail(entry),
        reverse("diary:entry-edit", kwargs={"entry_id": entry.pk}),
        reverse("diary:member-entries", kwargs={"nickname": "aiko"}),
        reverse("diary:entry-create"),
    ]
    for url in urls:
        assert to_login(anonymous.get(url)), url
    posts = [
        reverse("diary:entry-delete", kwargs={"entry_id": entry.pk}),
        reverse("diary:comment-create", kwargs={"entry_id": entry.pk}),
        reverse("diary:entry-like", kwargs={"entry_id": entry.pk}),
    ]
    for url in posts:
        assert to_login(anonymous.post(url, {"body": "hi"})), url
    assert Entry.objects.filter(pk=entry.pk).exists()
    assert not Comment.objects.exists()
    assert not Like.objects.exists()


@pytest.mark.parametrize(("audience", "role"), CASES)
def test_who_may_see_an_entry_may_comment_on_it_and_no_one_else(
    cast, clients, audience, role
):
    entry = make_entry(cast["owner"], audience)
    url = reverse("diary:comment-create", kwargs={"entry_id": entry.pk})

    response = clients[role].post(url, {"body": "Nice!"})

    if role in SEES[audience]:
        assert response.status_code == 302
        assert Comment.objects.get().author == cast[role]
    else:
        assert response.status_code == 404
        assert not Comment.objects.exists()


@pytest.mark.parametrize(("audience", "role"), CASES)
def test_who_may_see_an_entry_may_like_it_and_no_one_else(
    cast, clients, audience, role
):
    entry = make_entry(cast["owner"], audience)
    url = reverse("diary:entry-like", kwargs={"entry_id": entry.pk})

    response = clients[role].post(url)

    if role in SEES[audience]:
        assert response.status_code == 302
        assert Like.objects.get().member == cast[role]
    else:
        assert response.status_code == 404
        assert not Like.objects.exists()


@pytest.mark.parametrize(("audience", "role"), CASES)
def test_only_the_author_may_edit_or_delete(cast, clients, audience, role):
    entry = make_entry(cast["owner"], audience, title="Before")
    edit = reverse("diary:entry-edit", kwargs={"entry_id": entry.pk})
    delete = reverse("diary:entry-delete", kwargs={"entry_id": entry.pk})
    client = clients[role]

    edited = client.post(
        edit, {"title": "After", "body": "x", "audience": Audience.MEMBERS}
    )
    asked = client.get(delete)
    deleted = client.post(delete)

    if role == "owner":
        assert (edited.status_code, asked.status_code) == (302, 200)
        assert deleted.status_code == 302
        assert not Entry.objects.filter(pk=entry.pk).exists()
        return
    expected = 403 if role in SEES[audience] else 404
    assert edited.status_code == asked.status_code == deleted.status_code == expected
    entry.refresh_from_db()
    assert (entry.title, entry.audience) == ("Before", audience)


@pytest.mark.parametrize(("audience", "role"), CASES)
def test_a_members_entry_list_shows_what_the_viewer_may_see(
    cast, clients, audience, role
):
    make_entry(cast["owner"], audience, title="Listed entry")
    url = reverse("diary:member-entries", kwargs={"nickname": "aiko"})

    response = clients[role].get(url)

    if role in ("blocked", "blocker"):
        # A block hides the member's whole page, as a nickname that is not there.
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        assert ("Listed entry" in response.text) == (role in SEES[audience])


@pytest.mark.parametrize(("audience", "role"), CASES)
def test_a_members_page_lists_the_latest_entries_the_viewer_may_see(
    cast, clients, audience, role
):
    make_entry(cast["owner"], audience, title="On her page")
    response = clients[role].get(reverse("accounts:member-detail", args=["aiko"]))
    if role in ("blocked", "blocker"):
        assert response.status_code == 404
        return
    assert response.status_code == 200
    assert ("On her page" in response.text) == (role in SEES[audience])
    shown = [entry.title for entry in response.context["entries"]]
    assert shown == (["On her page"] if role in SEES[audience] else [])


def test_a_members_page_shows_their_latest_five(cast, clients):
    for n in range(7):
        make_entry(cast["owner"], Audience.FRIENDS, title=f"Day {n}")
    response = clients["friend"].get(reverse("accounts:member-detail", args=["aiko"]))
    assert [e.title for e in response.context["entries"]] == [
        f"Day {n}" for n in (6, 5, 4, 3, 2)
    ]
    assert reverse("diary:member-entries", args=["aiko"]) in response.text


def test_write_diary_links_on_home_and_on_my_own_page_only(cast, clients):
    create = reverse("diary:entry-create")
    home = clients["owner"].get("/")
    mine = clients["owner"].get(reverse("accounts:member-detail", args=["aiko"]))
    theirs = clients["friend"].get(reverse("accounts:member-detail", args=["aiko"]))
    assert f'href="{create}">Write diary</a>' in home.text
    assert f'href="{create}">Write diary</a>' in mine.text
    assert create not in theirs.text


# --- Writing ---------------------------------------------------------------


def test_the_form_starts_with_the_authors_default_audience(cast, clients):
    owner = cast["owner"]
    owner.default_audience = Audience.FRIENDS_OF_FRIENDS
    owner.save(update_fields=["default_audience"])

    response = clients["owner"].get(reverse("diary:entry-create"))

    form = response.context["form"]
    assert form["audience"].value() == Audience.FRIENDS_OF_FRIENDS
    for label in ("Title", "Body", "Who can see this"):
        assert f">{label}</label>" in response.text
    for option in ("All members", "Friends of friends", "Friends", "Only me"):
        assert f">{option}</option>" in response.text
    assert ">Post</button>" in response.text


def test_writing_an_entry_saves_it_and_shows_it(cast, clients):
    response = clients["owner"].post(
        reverse("diary:entry-create"),
        {"title": "Hanami", "body": "Line one\nLine two", "audience": "fof"},
    )
    entry = Entry.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail(entry)
    assert (entry.author, entry.title, entry.audience) == (
        cast["owner"],
        "Hanami",
        Audience.FRIENDS_OF_FRIENDS,
    )
    assert entry.body == "Line one\nLine two"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"title": "", "body": "b", "audience": "friends"}, "This field is required"),
        ({"title": "t", "body": " ", "audience": "friends"}, "This field is required"),
        ({"title": "t", "body": "b", "audience": "world"}, "Select a valid choice"),
        ({"title": "t" * 101, "body": "b", "audience": "friends"}, "at most 100"),
    ],
)
def test_a_refused_entry_saves_nothing_and_keeps_what_was_typed(
    cast, clients, fields, error
):
    response = clients["owner"].post(reverse("diary:entry-create"), fields)
    assert response.status_code == 200
    assert error in response.text
    assert not Entry.objects.exists()
    if fields["body"].strip():
        assert fields["body"] in response.text


def test_the_body_is_plain_text_with_links_and_line_breaks(cast, clients):
    entry = make_entry(
        cast["owner"],
        Audience.FRIENDS,
        body='<script>alert("x")</script>\nsee https://example.com/a?b=1&c=2.',
    )
    response = clients["friend"].get(detail(entry))
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in response.text
    assert (
        '<a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener ugc"'
        in response.text
    )
    assert "&lt;/script&gt;\nsee" in response.text
    assert 'class="msg-body diary-body"' in response.text


def test_the_author_edits_title_body_and_audience(cast, clients):
    entry = make_entry(cast["owner"], Audience.FRIENDS)
    edit = reverse("diary:entry-edit", kwargs={"entry_id": entry.pk})
    page = clients["owner"].get(edit)
    assert page.context["form"]["title"].value() == "A day"
    response = clients["owner"].post(
        edit, {"title": "New", "body": "Rain.", "audience": "me"}
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.title, entry.body, entry.audience) == ("New", "Rain.", "me")
    assert clients["friend"].get(detail(entry)).status_code == 404


def test_deleting_asks_first_and_takes_comments_and_likes_along(cast, clients):
    entry = make_entry(cast["owner"], Audience.FRIENDS)
    Comment.objects.create(entry=entry, author=cast["friend"], body="hi")
    Like.objects.create(entry=entry, member=cast["friend"])
    delete = reverse("diary:entry-delete", kwargs={"entry_id": entry.pk})

    page = clients["owner"].get(delete)
    assert page.status_code == 200
    assert "cannot be undone" in page.text
    assert Entry.objects.filter(pk=entry.pk).exists()

    response = clients["owner"].post(delete)
    assert response.status_code == 302
    assert not Entry.objects.exists()
    assert not Comment.objects.exists()
    assert not Like.objects.exists()


# --- Comments ---------------------------------------------------------------


def test_the_comment_box_is_labelled(cast, clients):
    entry = make_entry(cast["owner"], Audience.FRIENDS)
    response = clients["friend"].get(detail(entry))
    assert '<label for="comment-body">Comment</label>' in response.text
    assert '<button type="submit" class="primary">Comment</button>' in response.text


def test_an_htmx_comment_answers_with_its_fragment(cast, clients):
    entry = make_entry(cast["owner"], Audience.FRIENDS)
    url = reverse("diary:comment-create", kwargs={"entry_id": entry.pk})

    response = clients["friend"].post(url, {"body": "Lovely <b>day</b>"}, **HTMX)

    comment = Comment.objects.get()
    assert response.status_code == 201
    assert f'hx-swap-oob="beforeend:#entry-{entry.pk}-comments"' in response.text
    assert f'id="comment-{comment.pk}"' in response.text
    assert "Lovely &lt;b&gt;day&lt;/b&gt;" in response.text


@pytest.mark.parametrize("body", ["", "   ", "x" * 2001])
def test_an_empty_or_long_comment_is_refused_and_saves_nothing(cast, clients, body):
    entry = make_entry(cast["owner"], Audience.FRIENDS)
    url = reverse("diary:comment-create", kwargs={"entry_id": entry.pk})

    response = clients["friend"].post(url, {"body": body}, **HTMX)

    assert response.status_code == 200
    assert response["X-Refused"] == "400"
    assert not Comment.objects.exists()


def test_the_author_may_delete_any_comment_a_commenter_their_own(cast, clients):
    entry = make_entry(cast["owner"], Audience.FRIENDS_OF_FRIENDS)
    by_friend = Comment.objects.create(entry=entry, author=cast["friend"], body="a")
    by_fof = Comment.objects.create(entry=entry, author=cast["fof"], body="b")

    def delete(role, comment):
        url = reverse("diary:comment-delete", kwargs={"comment_id": comment.pk})
        return clients[role].post(url)

    assert delete("fof", by_friend).status_code == 403
    assert delete("other", by_friend).status_code == 404
    assert delete("blocked", by_friend).status_code == 404
    assert Comment.objects.count() == 2
    assert delete("fof", by_fof).status_code == 302
    assert delete("owner", by_friend).status_code == 302
    assert not Comment.objects.exists()


def test_comments_of_members_hidden_by_a_block_are_not_shown(cast, clients):
    # eri (a friend of a friend) blocks ben after ben commented: eri no longer
    # sees ben's comment; aiko still does.
    from accounts.models import Block

    entry = make_entry(cast["owner"], Audience.FRIENDS_OF_FRIENDS)
    Comment.objects.create(entry=entry, author=cast["friend"], body="From ben")
    Comment.objects.create(entry=entry, author=cast["fof"], body="From eri")
    Block.objects.create(blocker=cast["fof"], blocked=cast["friend"])

    seen_by_eri = clients["fof"].get(detail(entry)).text
    seen_by_aiko = clients["owner"].get(detail(entry)).text

    assert "From ben" not in seen_by_eri
    assert "From eri" in seen_by_eri
    assert "From ben" in seen_by_aiko and "From eri" in seen_by_aiko


def test_catch_up_answers_comments_after_an_id_and_the_like_count(cast, clients):
    entry = make_entry(cast["owner"], Audience.FRIENDS)
    first = Comment.objects.create(entry=entry, author=cast["friend"], body="one")
    second = Comment.objects.create(entry=entry, author=cast["owner"], body="two")
    Like.objects.create(entry=entry, member=cast["friend"])

    response = clients["friend"].get(f"{detail(entry)}?after={first.pk}", **HTMX)

    assert f'id="comment-{second.pk}"' in response.text
    assert f'id="comment-{first.pk}"' not in response.text
    assert (
        f'<span id="entry-{entry.pk}-like-count" class="like-count" '
        'hx-swap-oob="true">1</span>' in response.text
    )


def test_catch_up_names_its_cursor_and_the_page_starts_from_the_newest_shown(
    cast, clients
):
    entry = make_entry(cast["owner"], Audience.FRIENDS)
    first = Comment.objects.create(entry=entry, author=cast["friend"], body="one")
    second = Comment.objects.create(entry=entry, author=cast["owner"], body="two")

    page = clients["friend"].get(detail(entry)).text
    answer = clients["friend"].get(f"{detail(entry)}?after={first.pk}", **HTMX)
    nothing_new = clients["friend"].get(f"{detail(entry)}?after={second.pk}", **HTMX)

    assert f'data-cursor="{second.pk}"' in page
    assert answer["X-Cursor"] == str(second.pk)
    assert nothing_new["X-Cursor"] == str(second.pk)


# --- Likes ------------------------------------------------------------------


def test_like_toggles_and_says_liked(cast, clients):
    entry = make_entry(cast["owner"], Audience.FRIENDS)
    url = reverse("diary:entry-like", kwargs={"entry_id": entry.pk})

    first = clients["friend"].post(url, **HTMX)
    assert Like.objects.filter(entry=entry, member=cast["friend"]).exists()
    assert 'aria-pressed="true">Liked</button>' in first.text
    assert ">1</span>" in first.text

    second = clients["friend"].post(url, **HTMX)
    assert not Like.objects.exists()
    assert 'aria-pressed="false">Like</button>' in second.text


# --- Photos -------------------------------------------------------------------


def test_an_entry_is_written_with_its_photos(
    cast, clients, django_capture_on_commit_callbacks
):
    from photos.models import Photo
    from tests.photos.conftest import media_files
    from tests.photos.files import jpeg, png, upload

    create = reverse("diary:entry-create")
    assert ">Photos (up to 3)</label>" in clients["owner"].get(create).text
    with django_capture_on_commit_callbacks(execute=True):
        response = clients["owner"].post(
            create,
            {
                "title": "Picnic",
                "body": "b",
                "audience": "friends",
                "photos": [upload("a.jpg", jpeg()), upload("b.png", png())],
            },
        )
    entry = Entry.objects.get()
    assert response.status_code == 302
    assert Photo.objects.filter(entry=entry, owner=cast["owner"]).count() == 2
    assert len(media_files()) == 4  # two sizes each
    page = clients["friend"].get(detail(entry))
    assert page.text.count('class="photo-grid"') == 1


@pytest.mark.parametrize(
    "files",
    [
        [("notes.jpg", b"just text, not an image")],
        [("a.jpg", None), ("b.jpg", None), ("c.jpg", None), ("d.jpg", None)],
    ],
    ids=["not-an-image", "four-photos"],
)
def test_a_refused_photo_leaves_no_entry_and_no_file(
    cast, clients, files, django_capture_on_commit_callbacks
):
    from photos.models import Photo
    from tests.photos.conftest import media_files
    from tests.photos.files import jpeg, upload

    uploads = [
        upload(name, data if data is not None else jpeg()) for name, data in files
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = clients["owner"].post(
            reverse("diary:entry-create"),
            {
                "title": "Picnic",
                "body": "Kept",
                "audience": "friends",
                "photos": uploads,
            },
        )
    assert response.status_code == 200
    assert 'class="errorlist' in response.text
    assert "Kept" in response.text
    assert not Entry.objects.exists()
    assert not Photo.objects.exists()
    assert media_files() == set()
