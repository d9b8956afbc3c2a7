"""Catch-up serves each message's fragment from the cache, rendered once for
every viewer, and never a fragment another viewer should not see: the
viewer's own like and a quote of someone hidden from them are rendered for
them; any change to what a fragment shows is a new cache key; a failing
cache costs only the saving. Plus the catch-up's query budget."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Block
from chat import actions, fragments
from chat.models import Like
from tests.chat.conftest import HTMX, client_for
from tests.chat.test_catch_up import catch_up_url
from tests.chat.test_messages import article, ids_in
from tests.factories import MessageFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_fragment_cache")]


@pytest.fixture
def renders(monkeypatch):
    """The messages each catch-up rendered (the rest came from the cache)."""
    rendered = []
    real = fragments._render_message

    def counting(message, context):
        rendered.append(message.pk)
        return real(message, context)

    monkeypatch.setattr(fragments, "_render_message", counting)
    return rendered


@pytest.fixture
def posts(other_member, other_membership, topic):
    return MessageFactory.create_batch(5, topic=topic, author=other_member)


def catch_up(member, topic, after=0) -> str:
    response = client_for(member).get(catch_up_url(topic, after=after), **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_a_second_catch_up_renders_nothing_and_answers_the_same(
    member, membership, other_member, topic, posts, renders
):
    first = catch_up(member, topic)
    assert renders == [m.pk for m in posts]

    renders.clear()
    second = catch_up(other_member, topic)

    assert renders == []
    assert second == first
    assert ids_in(second) == [m.pk for m in posts]


def test_the_viewers_own_like_is_theirs_alone_whoever_filled_the_cache(
    member, membership, other_member, topic, posts
):
    Like.objects.create(message=posts[2], member=member)

    for viewer, liked in ((other_member, "false"), (member, "true")):
        html = catch_up(viewer, topic)
        assert f'aria-pressed="{liked}"' in article(html, posts[2].pk), viewer
    # And the other way round, from a cache the liker filled.
    cache.clear()
    for viewer, liked in ((member, "true"), (other_member, "false")):
        html = catch_up(viewer, topic)
        assert f'aria-pressed="{liked}"' in article(html, posts[2].pk), viewer


def test_own_reply_to_a_member_hidden_by_a_block_is_masked_for_its_author_only(
    member, membership, other_member, other_membership, third_member, topic
):
    quoted = MessageFactory(topic=topic, author=third_member, body="chika's secret")
    reply = MessageFactory(topic=topic, author=member, reply_to=quoted)
    # ben's catch-up puts the reply, quote shown, in the cache.
    assert "chika&#x27;s secret" in article(catch_up(other_member, topic), reply.pk)
    Block.objects.create(blocker=third_member, blocked=member)

    html = catch_up(member, topic, after=quoted.pk)

    assert ids_in(html) == [reply.pk]
    assert "chika" not in article(html, reply.pk)
    assert "In reply to a message you cannot see" in article(html, reply.pk)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda m: actions.edit_message(message=m, body="new words"), id="edit"
        ),
        pytest.param(lambda m: actions.delete_message(message=m), id="delete"),
        pytest.param(
            lambda m: m.author.__class__.objects.filter(pk=m.author_id).update(
                nickname="benjamin", nickname_key="benjamin"
            ),
            id="nickname",
        ),
    ],
)
def test_a_change_to_what_a_fragment_shows_is_never_served_stale(
    member, membership, topic, posts, change
):
    before = article(catch_up(member, topic), posts[0].pk)

    change(posts[0])
    after = article(catch_up(member, topic), posts[0].pk)

    assert after != before


def test_a_change_to_the_quoted_message_is_never_served_stale(
    member, membership, other_member, topic, posts
):
    reply = MessageFactory(topic=topic, author=member, reply_to=posts[0])
    quoted_body = posts[0].body
    assert quoted_body in article(catch_up(member, topic), reply.pk)

    actions.delete_message(message=posts[0])

    quote = article(catch_up(member, topic), reply.pk)
    assert quoted_body not in quote
    assert "In reply to a deleted message" in quote


def test_catch_up_answers_in_full_when_the_cache_fails(
    member, membership, topic, posts, monkeypatch
):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get_many", down)
    monkeypatch.setattr(cache, "set_many", down)

    assert ids_in(catch_up(member, topic)) == [m.pk for m in posts]


def test_a_catch_up_takes_nine_queries_however_many_messages_it_brings(
    member, membership, other_member, topic, posts
):
    client = client_for(member)
    client.get(catch_up_url(topic, after=0), **HTMX)  # the session, warmed
    MessageFactory.create_batch(40, topic=topic, author=other_member)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(catch_up_url(topic, after=posts[-1].pk), **HTMX)

    assert len(ids_in(response.content.decode())) == 40
    # Session, member, membership, topic, new rows, changed rows (none asked:
    # no `since`, so none run), likes, hidden members: and nothing per row.
    assert len(queries) <= 9, [q["sql"] for q in queries]


def test_after_a_cache_failure_catch_up_skips_the_cache_for_a_while(
    member, membership, topic, posts, cache_down, monkeypatch
):
    from project import cache_guard

    cache_down.fail(monkeypatch, "get_many", "set_many")

    assert ids_in(catch_up(member, topic)) == [m.pk for m in posts]
    assert len(cache_down.calls) == 1  # the read failed; no write after it

    cache_down.wait(cache_guard.RETRY_AFTER - 0.1)
    assert ids_in(catch_up(member, topic)) == [m.pk for m in posts]
    assert len(cache_down.calls) == 1  # not asked again meanwhile

    cache_down.wait(0.2)
    fragments.local_fragments.clear()  # what this process kept meanwhile
    catch_up(member, topic)
    assert len(cache_down.calls) == 2  # and asked again after


def test_an_emptied_cache_costs_no_render_in_a_process_that_served_them(
    member, membership, topic, posts, renders
):
    first = catch_up(member, topic)
    cache.clear()  # Redis restarted, empty

    assert catch_up(member, topic) == first
    assert sorted(renders) == [m.pk for m in posts]  # once, for the first


def test_the_process_keeps_the_most_recently_used_fragments_within_its_bytes():
    local = fragments.LocalFragments(max_bytes=10)
    local.set_many({"a": "aaaa", "b": "bbbb"})
    assert local.get_many(["a"]) == {"a": "aaaa"}  # a is now the most recent

    local.set_many({"c": "cccc"})  # 12 bytes: b, least recently used, goes

    assert local.get_many(["a", "b", "c"]) == {"a": "aaaa", "c": "cccc"}
    local.set_many({"a": "aaaaaa"})  # replacing counts the new size only
    assert local.get_many(["c", "a"]) == {"a": "aaaaaa", "c": "cccc"}
    local.set_many({"d": "dd"})  # 12 again: c, used before a, goes
    assert local.get_many(["a", "c", "d"]) == {"a": "aaaaaa", "d": "dd"}
