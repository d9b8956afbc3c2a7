"""Reports, live (one process: the in-memory layer, or Redis when REDIS_URL is
set; the real consumer): a new report sends each moderator of its community
their new open count on every open socket of theirs, as a bare notice the
page does not swap; resolving it sends the lower count. A plain member's
socket hears nothing; staff hear of reports with no community."""

import re

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from tests.conftest import client_for
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db(transaction=True)

NOTICE = re.compile(r'^<template id="live-reports" data-count="(\d+)"></template>$')
WAIT = 3


async def next_count(socket) -> int:
    while True:
        frame = await socket.receive_from(timeout=WAIT)
        found = NOTICE.match(frame)
        if found:
            return int(found.group(1))


@sync_to_async
def post(member, url, data):
    response = client_for(member).post(url, data)
    assert response.status_code == 302, response.content
    return response


async def test_a_report_reaches_each_moderators_sockets_with_their_count(
    club,
    topic,
    aiko,
    ben,
    chika,
    daichi,
    open_socket,
):
    message = await sync_to_async(MessageFactory)(topic=topic, author=ben)
    daichis = [await open_socket(daichi), await open_socket(daichi)]
    aikos = await open_socket(aiko)
    bens = await open_socket(ben)

    await post(
        chika,
        reverse("moderation:report"),
        {"kind": "message", "id": message.pk, "rule": "spam"},
    )
    assert [await next_count(tab) for tab in daichis] == [1, 1]
    assert await next_count(aikos) == 1
    assert await bens.receive_nothing(timeout=0.5)

    from moderation.models import Report

    found = await Report.objects.aget()
    await post(
        daichi,
        reverse("moderation:report-resolve", kwargs={"report_id": found.pk}),
        {"outcome": "dismissed"},
    )
    assert [await next_count(tab) for tab in daichis] == [0, 0]
    assert await next_count(aikos) == 0


async def test_a_report_about_a_member_reaches_staff_not_moderators(
    club, ben, chika, daichi, staff, open_socket
):
    staffs = await open_socket(staff)
    daichis = await open_socket(daichi)
    await post(
        chika,
        reverse("moderation:report"),
        {"kind": "member", "id": ben.pk, "rule": "harassment"},
    )
    assert await next_count(staffs) == 1
    assert await daichis.receive_nothing(timeout=0.5)
