"""Only the owner ever sees their footprints: a walk over every URL the
project answers (every route from the resolver, its parameters filled with
real ids of the access matrix's world, tests/access_world.py), each as a
page and as an htmx fragment (with `?after=0`, the catch-up form), by every
kind of member who is not the owner. No answer names a member who left a
footprint on the owner and nothing else: their nicknames appear nowhere, and
each walker's own footprint count stays empty.

A route added later is walked too: nothing here lists the routes.
"""

import re

import pytest
from django.utils import timezone

from chat.models import Message
from communities.models import Topic
from presence.models import Footprint
from tests.access_world import build_world
from tests.conftest import MemberFactory, client_for
from tests.factories import coffee_club
from tests.test_url_surface import resolvable_routes

# Members who know no one and appear nowhere but in the owner's footprints.
VISITORS = ("ashiato1", "ashiato2")
WALKERS = ("friend", "fof", "other", "blocked", "blocker", "visitor")
PARAMETER = re.compile(r"<(\w+)>")
HIDDEN_BADGE = '<span id="footprint-badge" class="badge" aria-hidden="true" hidden>'


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db, django_capture_on_commit_callbacks):
    world = build_world("members", capture=django_capture_on_commit_callbacks)
    owner = world.owner
    visitors = [MemberFactory(nickname=name) for name in VISITORS]
    now = timezone.now()
    for days_ago in (0, 3):
        for visitor in visitors:
            Footprint.objects.create(
                owner=owner,
                visitor=visitor,
                day=timezone.localdate() - timezone.timedelta(days=days_ago),
                visited_at=now - timezone.timedelta(days=days_ago),
                visits=2,
            )
    people = world.people
    community = coffee_club(owner, people["friend"], people["other"])
    topic = Topic.objects.create(community=community, title="Walk", created_by=owner)
    message = Message.objects.create(
        topic=topic,
        author=owner,
        body="hello",
        body_html="<p>hello</p>",
        client_id="walk-1",
    )
    ids = {
        **world.ids(),
        "photo": world.album_photo.pk,
        "topic": topic.pk,
        "community": community.pk,
        "message": message.pk,
        "member": owner.pk,
        "size": "thumb",
    }
    return world, visitors, ids


def url_for(route: str, ids: dict) -> str | None:
    if route.startswith("admin/") or "(?P<" in route or "^" in route:
        return None

    def fill(match):
        name = match.group(1)
        key = name.removesuffix("_id")
        return str(ids.get(key, ids.get(name, 1)))

    return "/" + PARAMETER.sub(fill, route)


def test_no_page_or_fragment_shows_anyone_elses_footprints(world):
    world, visitors, ids = world
    urls = sorted(
        {url for route, _name in resolvable_routes() if (url := url_for(route, ids))}
    )
    assert "/footprints/" in urls
    assert f"/members/{world.owner.nickname}/" in urls
    assert f"/diary/{world.entry.pk}/" in urls

    walkers = {role: world.people[role] for role in WALKERS if role != "visitor"}
    walkers["visitor"] = visitors[0]
    seen_pages = 0
    for role, walker in walkers.items():
        client = client_for(walker)
        secret = [v.nickname for v in visitors if v.pk != walker.pk]
        for url in urls:
            for headers, query in (({}, ""), ({"HTTP_HX_REQUEST": "true"}, "?after=0")):
                response = client.get(url + query, **headers)
                raw = (
                    b"".join(response.streaming_content)
                    if response.streaming
                    else response.content
                )
                body = raw.decode("utf-8", errors="replace")
                for nickname in secret:
                    assert nickname not in body, (
                        role,
                        url,
                        query,
                        response.status_code,
                    )
                if 'id="footprint-badge"' in body:
                    seen_pages += 1
                    assert HIDDEN_BADGE in body, (role, url, query)
        # The walker's own Footprints page: nobody came to theirs.
        assert list(client.get("/footprints/").context["page"]) == []
    assert seen_pages > 20
    # The owner does see them (the walk would prove nothing otherwise).
    owner_page = client_for(world.owner).get("/footprints/").content.decode()
    for nickname in VISITORS:
        assert nickname in owner_page
