"""The community's audit log (its moderators, staff) and its public log of
removals (its members, without the moderator's name)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from moderation import audit, members
from moderation.models import ModerationAction, Rule, TargetKind
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def audit_url(community):
    return reverse("moderation:audit-log", args=[community.pk])


def public_url(community):
    return reverse("moderation:public-log", args=[community.pk])


def removals(community, actor, count):
    """`count` public deletions by `actor`, as M2's delete records them."""
    for n in range(count):
        audit.record(
            ModerationAction.Kind.DELETE,
            actor=actor,
            community=community,
            target_kind=TargetKind.MESSAGE,
            target_id=1000 + n,
            rule=Rule.SPAM,
            reason=f"removal {n}",
            public=True,
        )


def test_moderators_read_the_audit_log_newest_first_with_who_did_it(
    club, aiko, daichi, ben, chika
):
    members.mute_member(daichi, club, ben, minutes=60, reason="Shouting")
    members.ban_member(daichi, club, chika, reason="Spam links")

    response = client_for(aiko).get(audit_url(club))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("Spam links") < html.index("Shouting")
    assert "Banned a member" in html
    assert "Muted a member" in html
    rows = list(response.context["page"].object_list)
    assert [row.kind for row in rows] == ["ban", "mute"]
    assert [row.actor.nickname for row in rows] == ["daichi", "daichi"]
    assert html.count(">daichi<") == 2


def test_the_owner_and_staff_read_the_audit_log(club, aiko, staff):
    assert client_for(aiko).get(audit_url(club)).status_code == 200
    assert client_for(staff).get(audit_url(club)).status_code == 200


def test_a_member_is_refused_the_audit_log(club, ben):
    assert client_for(ben).get(audit_url(club)).status_code == 403


def test_a_secret_communitys_logs_are_not_found_for_a_stranger(secret_club, ben):
    assert client_for(ben).get(audit_url(secret_club)).status_code == 404
    assert client_for(ben).get(public_url(secret_club)).status_code == 404


def test_the_public_log_lists_removals_without_the_moderators_name(
    club, daichi, ben, chika
):
    members.mute_member(daichi, club, ben, minutes=60, reason="Shouting")
    members.ban_member(daichi, club, chika, reason="Spam links", rule=Rule.SPAM)

    response = client_for(ben).get(public_url(club))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Banned a member" in html
    assert "Spam or advertising" in html
    assert "daichi" not in html
    # Neither what the moderator wrote nor what is not a removal.
    assert "Spam links" not in html
    assert "Muted a member" not in html


def test_a_stranger_is_refused_an_open_communitys_public_log(club, member_factory):
    stranger = member_factory(nickname="eri")

    assert client_for(stranger).get(public_url(club)).status_code == 403


@pytest.mark.parametrize("url", [audit_url, public_url])
def test_the_logs_read_in_the_same_queries_however_long(club, daichi, url):
    client = client_for(daichi)
    removals(club, daichi, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(club)).status_code == 200

    removals(club, daichi, 30)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(club))

    assert len(response.context["page"].object_list) == 32
    assert len(many) == len(few), [q["sql"] for q in many]


def test_the_audit_log_is_paginated(club, daichi):
    removals(club, daichi, 55)
    client = client_for(daichi)

    first = client.get(audit_url(club)).context["page"]
    second = client.get(audit_url(club), {"page": 2}).context["page"]

    assert len(first.object_list) == 50
    assert len(second.object_list) == 5
    assert first.object_list[0].reason == "removal 54"


def test_the_community_page_leads_to_the_moderation_pages_by_role(
    club, aiko, daichi, ben
):
    """The owner finds the moderators page, moderators their tools, every
    member the public log of removals."""
    pages = {
        "moderators": reverse("moderation:moderators", args=[club.pk]),
        "reports": reverse("moderation:reports"),
        "audit": audit_url(club),
        "filters": reverse("moderation:filters", args=[club.pk]),
        "public": public_url(club),
    }
    expected = {
        aiko: set(pages),
        daichi: {"reports", "audit", "filters", "public"},
        ben: {"public"},
    }
    for member, links in expected.items():
        html = client_for(member).get(club.get_absolute_url()).content.decode()
        shown = {name for name, url in pages.items() if f'href="{url}"' in html}
        assert shown == links, member.nickname
