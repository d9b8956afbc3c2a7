"""The topic page's message fragment with what the room lays out on the page
(static/js/chat.js): each message's instant (data-at, the same for every
zone) and its author's avatar; the page in a flat number of queries however
many authors with avatars it shows; a new avatar is a new catch-up cache key,
never a stale fragment."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Member
from chat import fragments
from tests.chat.conftest import HTMX, client_for
from tests.chat.test_catch_up import catch_up_url
from tests.chat.test_messages import article
from tests.factories import MessageFactory, TopicFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_fragment_cache")]


def with_avatar(member, name="avatars/face.jpg"):
    Member.objects.filter(pk=member.pk).update(avatar=name)
    member.refresh_from_db()
    return member


def page_queries(client, topic) -> int:
    url = topic.get_absolute_url()
    client.get(url)  # the first visit makes the read position
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_a_message_carries_its_instant_and_its_authors_avatar(
    member, membership, other_member, topic
):
    with_avatar(other_member)
    message = MessageFactory(topic=topic, author=other_member)
    response = client_for(member).get(topic.get_absolute_url())
    shown = article(response.content.decode(), message.pk)

    assert f'data-at="{int(message.created_at.timestamp())}"' in shown
    avatar_url = reverse("accounts:member-avatar", args=[other_member.nickname])
    # Decorative: the nickname is next to it.
    assert re.search(rf'<img class="avatar[^"]*" src="{avatar_url}" alt=""', shown)


def test_the_page_asks_as_many_queries_for_30_authors_with_avatars_as_for_5(
    member, membership, community, join, member_factory
):
    authors = []
    for n in range(30):
        author = with_avatar(member_factory(nickname=f"poster{n}"), f"avatars/{n}.jpg")
        join(author, community)
        authors.append(author)
    small = TopicFactory(community=community)
    large = TopicFactory(community=community)
    for n, author in enumerate(authors[:5]):
        MessageFactory(topic=small, author=author, body=f"small {n}")
    replied = None
    for n, author in enumerate(authors):
        replied = MessageFactory(
            topic=large, author=author, body=f"large {n}", reply_to=replied
        )
    client = client_for(member)

    small_count = page_queries(client, small)
    large_count = page_queries(client, large)

    assert small_count == large_count
    html = client.get(large.get_absolute_url()).content.decode()
    assert html.count('<img class="avatar') == 30


def test_a_new_avatar_is_a_new_catch_up_fragment(
    member, membership, other_member, topic
):
    message = MessageFactory(topic=topic, author=other_member)
    url = catch_up_url(topic, after=0)

    def shown():
        response = client_for(member).get(url, **HTMX)
        return article(response.content.decode(), message.pk)

    before = shown()
    assert "<img" not in before
    assert shown() == before  # from the cache

    with_avatar(other_member)
    after = shown()

    assert after != before
    assert "<img" in after


def test_the_cache_keys_digest_covers_the_templates_the_topic_page_includes(
    settings, tmp_path
):
    """A deploy that changes only an included template (a message's photos)
    must not serve fragments cached from the old one."""
    import shutil
    from pathlib import Path

    from django.template import engines

    copy = tmp_path / "templates"
    shutil.copytree(Path(settings.BASE_DIR) / "templates", copy)
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [copy]}]
    engines.__dict__.pop("templates", None)
    engines._engines = {}
    fragments._template_digest.cache_clear()
    try:
        before = fragments._template_digest()
        photos = copy / "chat" / "_message_photos.html"
        photos.write_text(photos.read_text() + "\n")
        fragments._template_digest.cache_clear()
        assert fragments._template_digest() != before
    finally:
        fragments._template_digest.cache_clear()
