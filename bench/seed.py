"""Fill the (fresh) bench database: one community, one topic, listener and
poster members, and a login session for each.

Sessions are written directly with Django's SessionStore encoding, as a login
would leave them: a thousand logins through allauth would trip its rate limits
and make login, not the live path, what is measured.

Run as `python -m bench.seed LISTENERS POSTERS OUT.json` with
DJANGO_SETTINGS_MODULE=bench.settings and the bench DATABASE_URL.
"""

import json
import sys
from datetime import timedelta


def seed(listeners: int, posters: int) -> dict:
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import transaction
    from django.utils import timezone

    from accounts import nicknames
    from accounts.models import Member
    from communities.models import Community, Membership, Topic

    # One password hash for everyone: hashing is slow by design and nobody
    # logs in with a password here.
    password = make_password(None)
    now = timezone.now()

    def members(prefix: str, count: int) -> list[Member]:
        rows = [
            Member(
                nickname=f"{prefix}{i:04d}",
                nickname_key=nicknames.nickname_key(f"{prefix}{i:04d}"),
                nickname_skeleton=nicknames.nickname_skeleton(f"{prefix}{i:04d}"),
                password=password,
            )
            for i in range(count)
        ]
        Member.objects.bulk_create(rows, batch_size=500)
        return list(Member.objects.filter(nickname__startswith=prefix).order_by("pk"))

    with transaction.atomic():
        listening = members("listener", listeners)
        posting = members("poster", posters)
        owner = posting[0]
        community = Community.objects.create(
            name="Bench Room", description="make bench", owner=owner
        )
        Membership.objects.bulk_create(
            [
                Membership(
                    community=community,
                    member=m,
                    role=Membership.Role.OWNER
                    if m.pk == owner.pk
                    else Membership.Role.MEMBER,
                )
                for m in listening + posting
            ],
            batch_size=500,
        )
        Community.objects.filter(pk=community.pk).update(
            member_count=len(listening) + len(posting)
        )
        topic = Topic.objects.create(
            community=community, title="Fan-out", created_by=owner
        )

        store = SessionStore()
        backend = settings.AUTHENTICATION_BACKENDS[0]
        expires = now + timedelta(days=1)
        sessions: dict[int, str] = {}
        rows = []
        for m in listening + posting:
            key = store._get_new_session_key()
            sessions[m.pk] = key
            data = {
                "_auth_user_id": str(m.pk),
                "_auth_user_backend": backend,
                "_auth_user_hash": m.get_session_auth_hash(),
            }
            rows.append(
                Session(
                    session_key=key,
                    session_data=store.encode(data),
                    expire_date=expires,
                )
            )
        Session.objects.bulk_create(rows, batch_size=500)

    return {
        "topic_id": topic.pk,
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "csrf_cookie": settings.CSRF_COOKIE_NAME,
        "listeners": [sessions[m.pk] for m in listening],
        "posters": [sessions[m.pk] for m in posting],
    }


def main() -> None:
    import django

    listeners, posters, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    django.setup()
    with open(out, "w") as f:
        json.dump(seed(listeners, posters), f)


if __name__ == "__main__":
    main()
