"""The read position and catch-up: POST /topics/<id>/read/ and
GET /topics/<id>/messages/?after=<id>[&since=<time>].

Who may move a read position, that it only moves forward, that catch-up
leaves it to the page, names its cursor (X-Cursor), pages beyond
CATCHUP_LIMIT with X-More, and keeps its query count flat however many rows
changed.
"""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chat.models import Message
from chat.views import CATCHUP_LIMIT
from communities.models import Membership, TopicRead
from tests.chat.conftest import HTMX, client_for
from tests.chat.test_messages import fill_topic, ids_in
from tests.factories import CommunityFactory, MessageFactory, TopicFactory

pytestmark = pytest.mark.django_db


def read_url(topic) -> str:
    return reverse("chat:topic-read", kwargs={"topic_id": topic.pk})


def catch_up_url(topic, after, since=None) -> str:
    params = {"after": after}
    if since is not None:
        params["since"] = since.isoformat()
    url = reverse("chat:message-list", kwargs={"topic_id": topic.pk})
    return f"{url}?{urlencode(params)}"


def read_position(member, topic) -> int | None:
    read = TopicRead.objects.filter(member=member, topic=topic).first()
    return read.last_read_id if read else None


@pytest.fixture
def posts(other_member, other_membership, topic):
    """Five messages by ben, oldest first."""
    return MessageFactory.create_batch(5, topic=topic, author=other_member)


# --- Who may move a read position --------------------------------------------------


def make_outsider(kind, member, community, join):
    """Put `member` in the relation to `community` that `kind` names."""
    if kind == "member_of_another_community":
        join(member, CommunityFactory())
    elif kind != "stranger":
        join(member, community, status=kind)


@pytest.mark.parametrize(
    "kind",
    [
        "stranger",
        "member_of_another_community",
        Membership.Status.BANNED,
        Membership.Status.PENDING,
        Membership.Status.INVITED,
    ],
)
def test_who_is_not_an_active_member_cannot_move_a_read_position(
    kind, member, community, join, topic, posts
):
    make_outsider(kind, member, community, join)

    response = client_for(member).post(read_url(topic), {"last_id": posts[-1].pk})

    assert response.status_code == 404
    assert not TopicRead.objects.filter(member=member).exists()


def test_anonymous_visitor_is_sent_to_log_in_and_no_read_position_appears(
    client, topic, posts
):
    response = client.post(read_url(topic), {"last_id": posts[-1].pk})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not TopicRead.objects.exists()


def test_a_topic_that_does_not_exist_is_not_found(member_client, membership, topic):
    response = member_client.post(
        reverse("chat:topic-read", kwargs={"topic_id": topic.pk + 1000}),
        {"last_id": 1},
    )

    assert response.status_code == 404
    assert not TopicRead.objects.exists()


def test_member_moves_the_read_position_forward_and_never_back(
    member_client, member, membership, topic, posts
):
    forward = member_client.post(read_url(topic), {"last_id": posts[3].pk})
    assert forward.status_code == 204
    assert read_position(member, topic) == posts[3].pk

    back = member_client.post(read_url(topic), {"last_id": posts[1].pk})
    assert back.status_code == 204
    assert read_position(member, topic) == posts[3].pk


def test_read_position_never_passes_the_topics_newest_message(
    member_client, member, membership, topic, posts, community
):
    elsewhere = MessageFactory(topic=TopicFactory(community=community))

    member_client.post(read_url(topic), {"last_id": elsewhere.pk + 10**6})

    assert read_position(member, topic) == posts[-1].pk


def test_reading_moves_only_the_readers_position(
    member_client, member, membership, other_member, topic, posts
):
    TopicRead.objects.create(member=other_member, topic=topic, last_read_id=posts[0].pk)

    member_client.post(read_url(topic), {"last_id": posts[3].pk})

    assert read_position(member, topic) == posts[3].pk
    assert read_position(other_member, topic) == posts[0].pk


def test_reading_an_empty_topic_marks_nothing_read(
    member_client, member, membership, topic
):
    response = member_client.post(read_url(topic), {"last_id": 10**6})

    # Not even the first message the topic will ever get.
    assert response.status_code == 204
    assert read_position(member, topic) == 0


@pytest.mark.parametrize("last_id", ["", "x", "1.5"])
def test_bad_read_position_is_a_bad_request_and_changes_nothing(
    last_id, member_client, member, membership, topic, posts
):
    TopicRead.objects.create(member=member, topic=topic, last_read_id=posts[0].pk)

    response = member_client.post(read_url(topic), {"last_id": last_id})

    assert response.status_code == 400
    assert read_position(member, topic) == posts[0].pk


# --- Catch-up and the read position ------------------------------------------------


def test_catch_up_leaves_the_read_position_to_the_page(
    member_client, member, membership, topic, posts
):
    # A tab in the background catches up too; what it fetched has not been
    # seen. The page reports what it showed (POST /read/) when it is visible.
    TopicRead.objects.create(member=member, topic=topic, last_read_id=posts[1].pk)

    response = member_client.get(catch_up_url(topic, after=posts[1].pk), **HTMX)

    assert ids_in(response.content.decode()) == [m.pk for m in posts[2:]]
    assert read_position(member, topic) == posts[1].pk


def test_catch_up_names_the_cursor_it_is_complete_up_to(
    member_client, membership, topic, posts
):
    response = member_client.get(catch_up_url(topic, after=posts[1].pk), **HTMX)

    assert response["X-Cursor"] == str(posts[-1].pk)
    assert response["X-More"] == "0"


def test_catch_up_with_nothing_new_keeps_the_cursor_where_it_was(
    member_client, membership, topic, posts
):
    response = member_client.get(catch_up_url(topic, after=posts[-1].pk), **HTMX)

    assert ids_in(response.content.decode()) == []
    assert response["X-Cursor"] == str(posts[-1].pk)


def test_catch_up_beyond_its_limit_says_there_is_more_and_the_next_one_brings_it(
    member_client, member, membership, other_member, other_membership, topic
):
    assert CATCHUP_LIMIT == 500
    new = MessageFactory.create_batch(
        CATCHUP_LIMIT + 1, topic=topic, author=other_member
    )

    first = member_client.get(catch_up_url(topic, after=0), **HTMX)

    assert first["X-More"] == "1"
    assert ids_in(first.content.decode()) == [m.pk for m in new[:CATCHUP_LIMIT]]
    # The next page starts after the last id of this one, whatever came live.
    assert first["X-Cursor"] == str(new[CATCHUP_LIMIT - 1].pk)
    rest = member_client.get(catch_up_url(topic, after=first["X-Cursor"]), **HTMX)
    assert rest["X-More"] == "0"
    assert ids_in(rest.content.decode()) == [new[-1].pk]
    assert rest["X-Cursor"] == str(new[-1].pk)


def test_exactly_the_limit_of_new_messages_says_there_is_no_more(
    member_client, membership, other_member, other_membership, topic
):
    new = MessageFactory.create_batch(CATCHUP_LIMIT, topic=topic, author=other_member)

    response = member_client.get(catch_up_url(topic, after=0), **HTMX)

    assert response["X-More"] == "0"
    assert len(ids_in(response.content.decode())) == len(new)


# --- Query count --------------------------------------------------------------------


def test_catch_up_query_count_stays_flat_as_changed_rows_grow_from_1_to_30(
    member_client, member, member_factory, community, join, membership
):
    authors = [member]
    for name in ("ben", "chika", "daichi", "emi"):
        authors.append(member_factory(nickname=name))
        join(authors[-1], community)
    topic = TopicFactory(community=community)
    # Replies and likes among them: each changed row shows its author, the
    # author it quotes and the reader's like.
    rows = fill_topic(topic, authors, 40)
    since = timezone.now() - timedelta(minutes=1)
    url = catch_up_url(topic, after=rows[-1].pk, since=since)

    counts = {}
    for changed in (1, 30):
        Message.objects.filter(pk__in=[m.pk for m in rows[:changed]]).update(
            changed_at=timezone.now()
        )
        with CaptureQueriesContext(connection) as queries:
            response = member_client.get(url, **HTMX)
        # The rows really came back as changed ones: this measures them.
        assert ids_in(response.content.decode()) == [m.pk for m in rows[:changed]]
        counts[changed] = len(queries)

    assert counts[1] == counts[30]


# --- What the page already holds (have=) ---------------------------------------------


def test_catch_up_leaves_out_what_the_page_holds_and_still_moves_the_cursor_past_it(
    member_client, membership, topic, posts
):
    have = f"{posts[1].pk}-{posts[2].pk},{posts[4].pk}"

    response = member_client.get(
        catch_up_url(topic, after=posts[0].pk) + f"&have={have}", **HTMX
    )

    assert ids_in(response.content.decode()) == [posts[3].pk]
    assert response["X-Cursor"] == str(posts[4].pk)


@pytest.mark.parametrize(
    "have", ["x", "5-", "-5", "9-3", "1,,2", "1-2-3", ",".join(["1"] * 51)]
)
def test_catch_up_refuses_ranges_it_cannot_read_and_sends_nothing(
    member_client, membership, topic, posts, have
):
    response = member_client.get(catch_up_url(topic, after=0) + f"&have={have}", **HTMX)

    assert response["X-Refused"] == "400"
    assert "must be at most 50 id ranges" in response.content.decode()
    assert ids_in(response.content.decode()) == []
