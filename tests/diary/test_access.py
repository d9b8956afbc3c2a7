"""The entry stream's authorization for sockets opening together: the entry
page's rule (Entry.objects.visible_to) for every socket of a crowd in one
query, whatever their number and their entries."""

import pytest
from django.conf import settings
from django.http import Http404

from accounts.audience import Audience
from chat.consumers import SessionEnded, _authorize_many
from tests.conftest import client_for
from tests.diary.conftest import make_entry

pytestmark = pytest.mark.django_db


def key(member) -> str:
    return client_for(member).cookies[settings.SESSION_COOKIE_NAME].value


def test_one_hop_answers_each_sockets_entries_in_one_query_for_all(
    cast, django_assert_num_queries
):
    owner, friend, fof, other = (cast[r] for r in ("owner", "friend", "fof", "other"))
    for_friends = make_entry(owner, Audience.FRIENDS)
    for_fof = make_entry(owner, Audience.FRIENDS_OF_FRIENDS)
    for_me = make_entry(owner, Audience.ONLY_ME)
    keys = {role: key(cast[role]) for role in ("owner", "friend", "fof", "other")}

    with django_assert_num_queries(4):
        answers = _authorize_many(
            [
                (keys["owner"], owner.pk, [], [str(for_me.pk), str(for_fof.pk)]),
                (keys["friend"], friend.pk, [], [str(for_friends.pk)] * 2),
                (keys["fof"], fof.pk, [], [str(for_fof.pk)]),
                (keys["fof"], fof.pk, [], [str(for_friends.pk)]),
                (keys["other"], other.pk, [], [str(for_fof.pk)]),
                (keys["other"], other.pk, [], ["x"]),
                (keys["other"], owner.pk, [], [str(for_fof.pk)]),  # not hers
                (keys["other"], other.pk, [], []),
            ]
        )

    hidden_from_aiko = frozenset({cast["blocked"].pk, cast["blocker"].pk})
    assert answers[0] == ([], hidden_from_aiko, [for_me.pk, for_fof.pk])
    assert answers[1] == ([], frozenset(), [for_friends.pk])
    assert answers[2] == ([], frozenset(), [for_fof.pk])
    assert isinstance(answers[3], Http404)
    assert isinstance(answers[4], Http404)
    assert isinstance(answers[5], Http404)
    assert isinstance(answers[6], SessionEnded)
    assert answers[7] == ([], frozenset())


def test_a_crowd_of_sockets_costs_no_more_queries(cast, django_assert_num_queries):
    entries = [make_entry(cast["owner"], Audience.MEMBERS) for _ in range(8)]
    requests = [
        (key(member), member.pk, [], [str(e.pk) for e in entries])
        for member in (cast["friend"], cast["fof"], cast["other"]) * 10
    ]
    with django_assert_num_queries(4):
        answers = _authorize_many(requests)
    assert all(answer[2] == [e.pk for e in entries] for answer in answers)


def test_blocked_members_are_refused_either_way(cast):
    entry = make_entry(cast["owner"], Audience.MEMBERS)
    for role in ("blocked", "blocker"):
        member = cast[role]
        (answer,) = _authorize_many([(key(member), member.pk, [], [str(entry.pk)])])
        assert isinstance(answer, Http404), role
