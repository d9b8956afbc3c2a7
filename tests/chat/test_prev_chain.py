"""A new message names the topic's message right before it (data-prev), in
its live frame and in the answer to its own send: the page moves its catch-up
cursor along that chain (docs/live-protocol.md, "The cursor"), so the id must
be exactly the topic's previous message, whatever other topics do, and must
appear nowhere a page could mistake for it (edits, catch-up, the page)."""

import re

import pytest
from asgiref.sync import sync_to_async

from chat import actions
from tests.chat.conftest import HTMX, RECEIVE_TIMEOUT, alogin, asend, client_for, send
from tests.chat.test_catch_up import catch_up_url
from tests.factories import MessageFactory, TopicFactory

pytestmark = pytest.mark.django_db(transaction=True)

PREV = re.compile(r'<article id="message-(\d+)"[^>]*\sdata-prev="(\d+)"')


def chain(html: str) -> list[tuple[int, int]]:
    return [(int(m), int(p)) for m, p in PREV.findall(html)]


def test_each_send_answers_with_the_topics_message_before_it(
    member_client, membership, community, topic
):
    elsewhere = TopicFactory(community=community)
    first = send(member_client, topic, "first")
    MessageFactory(topic=elsewhere, author=membership.member)  # another topic
    second = send(member_client, topic, "second")

    [(first_id, first_prev)] = chain(first.content.decode())
    [(second_id, second_prev)] = chain(second.content.decode())
    assert first_prev == 0
    assert second_prev == first_id
    assert second_id > first_id + 1  # the other topic's id lies between


def test_a_resend_names_no_previous_message(member_client, membership, topic):
    send(member_client, topic, "hello", client_id="same-id")
    send(member_client, topic, "another")

    again = send(member_client, topic, "hello", client_id="same-id")

    assert again.status_code == 200
    assert chain(again.content.decode()) == []
    assert "data-prev" not in again.content.decode()


async def test_the_live_frame_names_the_message_before_it(
    member, membership, other_member, other_membership, topic, open_socket
):
    socket = await open_socket(other_member, topic)
    client = await alogin(member)
    await asend(client, topic, "one")
    await socket.receive_from(RECEIVE_TIMEOUT)

    await asend(client, topic, "two")
    frame = await socket.receive_from(RECEIVE_TIMEOUT)

    [(two, prev)] = chain(frame)
    assert prev == (await topic.messages.exclude(pk=two).alatest("pk")).pk


async def test_an_edit_frame_names_no_previous_message(
    member, membership, other_member, other_membership, topic, open_socket
):
    client = await alogin(member)
    await asend(client, topic, "one")
    message = await topic.messages.aget()
    socket = await open_socket(other_member, topic)

    await asend_edit(message, "changed")
    frame = await socket.receive_from(RECEIVE_TIMEOUT)

    assert "changed" in frame
    assert "data-prev" not in frame


async def asend_edit(message, body):
    await sync_to_async(actions.edit_message)(message=message, body=body)


def test_neither_the_page_nor_catch_up_carries_data_prev(
    member, membership, other_member, other_membership, topic
):
    client = client_for(other_member)
    for body in ("one", "two"):
        send(client, topic, body)
    reader = client_for(member)

    page = reader.get(topic.get_absolute_url())
    caught_up = reader.get(catch_up_url(topic, after=0), **HTMX)

    assert "data-prev" not in page.content.decode()
    assert "data-prev" not in caught_up.content.decode()
