from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import actions
from accounts.audience import Audience
from accounts.models import FriendRequest, Member
from chat import text
from chat.models import Mention, Message
from communities import actions as community_actions
from communities.models import Community, JoinPolicy, Membership, Topic, TopicPolicy
from diary import actions as diary_actions
from diary.models import Comment, Entry, Like
from events import actions as event_actions
from events.models import Event
from photos.models import Album
from presence import footprints, notifications
from presence.models import Footprint, Notification

DEMO_PASSWORD = "enishi-demo"
DEMO_MEMBERS = {
    "aiko": "下北沢のカフェ巡りが好きです。Coffee, film cameras and long walks.",
    "ben": "Visiting Tokyo from Melbourne. Learning Japanese one kanji at a time.",
    "chika": "Illustrator. 猫と珈琲。",
    "daichi": "Runs the Saturday cupping sessions. Ask me about beans.",
}
# Beyond the circle of four: eri knows chika only (so aiko and eri are friends
# of friends), fumi knows nobody. Together they show every audience's reach.
OUTER_MEMBERS = {
    "eri": "chikaの美大時代の友達。陶芸をやっています。",
    "fumi": "New here. Nobody I know yet.",
}
OUTER_FRIENDS = [("eri", "chika")]
# (author, title, body, audience, hours ago)
DIARY = [
    (
        "aiko",
        "土曜日のカッピング",
        "初めてのカッピング会、みんなで12種類を飲み比べました。\n"
        "ケニアが一番好きだったかも。\nhttps://example.com/shimokita-roasters",
        Audience.FRIENDS,
        30,
    ),
    (
        "aiko",
        "New film camera",
        "Found an old Olympus at the flea market.\nFirst roll is in the camera.",
        Audience.FRIENDS_OF_FRIENDS,
        20,
    ),
    (
        "aiko",
        "Notes to self",
        "Buy filters. Call the roaster about the Saturday order.",
        Audience.ONLY_ME,
        10,
    ),
    (
        "ben",
        "Week three in Tokyo",
        "Ordered lunch entirely in Japanese today. Small victories.",
        Audience.MEMBERS,
        26,
    ),
    (
        "chika",
        "猫の新作イラスト",
        "マグカップ用の猫を描きました。土曜日に持っていきます🐈",
        Audience.FRIENDS,
        8,
    ),
    (
        "eri",
        "窯出し",
        "今週の窯出し。青い釉薬がうまくいきました。",
        Audience.FRIENDS_OF_FRIENDS,
        5,
    ),
]
# (owner, title, audience)
ALBUMS = [
    ("aiko", "Shimokita cafés", Audience.FRIENDS),
    ("chika", "Sketchbook", Audience.MEMBERS),
]
COMMUNITY = "Shimokita Coffee Club"
EVENT = "Saturday tasting walk"
EVENT_ZONE = "Asia/Tokyo"
TOPIC = "Live chat"
# How many of CHAT's messages were sent the day before.
YESTERDAY = 12
CHAT = [
    ("aiko", "Welcome to the Shimokita Coffee Club! ☕ 下北沢のコーヒー好き、集まれ〜"),
    ("ben", "Hi all! Just moved near Setagaya-Daita. Where should I start?"),
    ("chika", "ようこそ！まずは駅前の小さなスタンドがおすすめです。"),
    ("daichi", "Welcome ben. Saturday cupping is at 10:00, beginners welcome."),
    ("ben", "Cupping? Like… tasting with spoons?"),
    ("daichi", "Exactly. Loud slurping is encouraged 😄"),
    ("aiko", "ズズッとすするのがマナーなんですよ"),
    ("chika", "今日のおすすめはエチオピアのナチュラル。ベリーっぽい香り！"),
    ("ben", "Ethiopian natural sounds amazing. Is it sweet?"),
    ("chika", "はい、ジャムみたいな甘さ。ミルクなしで飲んでみて"),
    ("aiko", "@ben I can show you the route from the station on Saturday"),
    ("ben", "@aiko that would be great, thank you!"),
    ("daichi", "Reminder: bring your own cup, we're trying to cut paper cups."),
    ("aiko", "マイカップ持参、いいですね 👍"),
    ("chika", "猫のイラスト入りのカップ作ったので持っていきます🐈"),
    ("ben", "Photos please!"),
    ("chika", "土曜日にね〜"),
    (
        "daichi",
        "Menu for Saturday: Kenya AA, Guatemala Huehuetenango, and chika's Ethiopia.",
    ),
    ("daichi", "Filter papers are on me."),
    ("aiko", "ケニア大好き。酸味が爽やか"),
    ("ben", "What grind do you use for pour-over at home?"),
    (
        "daichi",
        "Medium-fine, like table salt. 15 g coffee to 250 g water is a good start.",
    ),
    ("ben", "Writing that down. 15:250."),
    ("chika", "お湯の温度は90℃くらいがおすすめ"),
    ("aiko", "Our guide to local roasters: https://example.com/shimokita-roasters"),
    ("ben", "Bookmarked. ありがとう!"),
    ("daichi", "Nice Japanese, ben 👏"),
    ("ben", "まだまだです… still learning"),
    ("aiko", "少しずつで大丈夫！"),
    ("chika", "Saturday forecast is sunny, we could sit outside"),
    ("daichi", "Then we take the terrace. See you all at 10."),
    ("aiko", "楽しみ！また土曜日に ☀️"),
    ("ben", "See you Saturday!"),
]


class Command(BaseCommand):
    help = (
        "Create demo members, friendships and a live community "
        "(idempotent; refuses when DEBUG is off)."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo refuses to run with DJANGO_DEBUG off: demo members have "
                "a published password."
            )
        with transaction.atomic():
            members = self._members()
            self._community(members)
            self._event(members)
            self._diaries(members)
            self._goings_on(members)
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for member in members.values():
            self.stdout.write(f"  {member.nickname}")
        self.stdout.write(f"Community: {COMMUNITY}, topic: {TOPIC}")

    def _members(self) -> dict[str, Member]:
        members = {}
        for nickname, introduction in DEMO_MEMBERS.items():
            member = Member.objects.filter(nickname=nickname).first()
            if member is None:
                member = Member.objects.create_user(
                    nickname, DEMO_PASSWORD, introduction=introduction
                )
            members[nickname] = member
        listed = list(members.values())
        for i, member in enumerate(listed):
            for other in listed[i + 1 :]:
                actions.make_friends(member, other)
        for nickname, introduction in OUTER_MEMBERS.items():
            member = Member.objects.filter(nickname=nickname).first()
            if member is None:
                member = Member.objects.create_user(
                    nickname, DEMO_PASSWORD, introduction=introduction
                )
            members[nickname] = member
        for a, b in OUTER_FRIENDS:
            actions.make_friends(members[a], members[b])
        return members

    def _diaries(self, members: dict[str, Member]) -> None:
        now = timezone.now()
        for nickname, title, body, audience, hours in DIARY:
            at = now - timedelta(hours=hours)
            Entry.objects.get_or_create(
                author=members[nickname],
                title=title,
                defaults={
                    "body": body,
                    "audience": audience,
                    "created_at": at,
                    "updated_at": at,
                },
            )
        for nickname, title, audience in ALBUMS:
            Album.objects.get_or_create(
                owner=members[nickname], title=title, defaults={"audience": audience}
            )

    def _community(self, members: dict[str, Member]) -> None:
        community = Community.objects.filter(name=COMMUNITY).first()
        if community is None:
            community = community_actions.create_community(
                owner=members["aiko"],
                name=COMMUNITY,
                description=(
                    "Coffee lovers of Shimokitazawa. "
                    "下北沢のコーヒー好きのコミュニティ。"
                    "Cuppings every Saturday, roaster tips, and live chat."
                ),
                category="food",
                join_policy=JoinPolicy.OPEN,
                topic_policy=TopicPolicy.MEMBERS,
            )
        for nickname in ("ben", "chika", "daichi"):
            community_actions.join_community(
                member=members[nickname], community=community
            )
        Membership.objects.filter(community=community, member=members["daichi"]).update(
            role=Membership.Role.MODERATOR
        )
        if Topic.objects.filter(community=community, title=TOPIC).exists():
            return
        # The first half of the talk was yesterday evening, the rest this
        # morning, so the room shows a day's separator; an author's messages
        # a minute apart show under one header.
        now = timezone.now()
        start = now - timedelta(days=1, hours=2)
        resumed = now - timedelta(minutes=3 * (len(CHAT) - YESTERDAY))
        topic = Topic.objects.create(
            community=community,
            title=TOPIC,
            created_by=members["aiko"],
            created_at=start,
        )
        # Written directly, not through send_message: the demo history is older
        # than the rate limit's window and nobody is listening yet.
        by_key = {m.nickname_key: m for m in members.values()}
        rows = []
        mentions = []
        for i, (nickname, body) in enumerate(CHAT):
            mentioned = [by_key[k] for k in text.mentioned_keys(body) if k in by_key]
            mentions.append(mentioned)
            rows.append(
                Message(
                    topic=topic,
                    author=members[nickname],
                    body=body,
                    body_html=text.render(body, mentioned),
                    client_id=f"seed-{topic.pk}-{i}",
                    created_at=(
                        start + timedelta(minutes=5 * i)
                        if i < YESTERDAY
                        else resumed + timedelta(minutes=3 * (i - YESTERDAY))
                    ),
                )
            )
        Message.objects.bulk_create(rows)
        Mention.objects.bulk_create(
            Mention(message=message, member=member)
            for message, mentioned in zip(rows, mentions, strict=True)
            for member in mentioned
        )
        last = rows[-1].created_at
        Topic.objects.filter(pk=topic.pk).update(
            last_message_at=last, message_count=len(rows)
        )
        Community.objects.filter(pk=community.pk).update(last_activity_at=last)

    def _event(self, members: dict[str, Member]) -> None:
        """An upcoming event in the club with one seat left: capacity 3, aiko
        organises it and goes with a guest; ben, chika and daichi have not
        answered. Made through the real actions, once."""
        community = Community.objects.get(name=COMMUNITY)
        if Event.objects.filter(community=community, title=EVENT).exists():
            return
        zone = ZoneInfo(EVENT_ZONE)
        today = timezone.now().astimezone(zone).date()
        saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
        starts_at = datetime.combine(saturday, time(10), tzinfo=zone)
        event = event_actions.create_event(
            members["aiko"],
            community,
            title=EVENT,
            description=(
                "A slow walk through Shimokitazawa's roasters, tasting as we go. "
                "下北沢の焙煎所をめぐりながら飲み比べ。"
            ),
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            time_zone=EVENT_ZONE,
            place="Shimokitazawa station, east exit",
            place_going_only=False,
            capacity=3,
            rsvp_deadline=None,
            guests_allowed=1,
        )
        event_actions.answer(members["aiko"], event, "going", guests=1)

    def _goings_on(self, members: dict[str, Member]) -> None:
        """What aiko finds when she logs in: footprints, a comment and likes
        on her diary, a friend request from fumi, a mention in the chat.
        Made through the real actions, so the notifications are the real
        ones; each only once."""
        aiko = members["aiko"]
        today = timezone.localdate()
        for nickname in ("ben", "chika", "eri"):
            visitor = members[nickname]
            if not Footprint.objects.filter(owner=aiko, visitor=visitor).exists():
                footprints.record_visit(owner=aiko, visitor=visitor)
        Footprint.objects.get_or_create(
            owner=aiko,
            visitor=members["daichi"],
            day=today - timedelta(days=3),
            defaults={"visited_at": timezone.now() - timedelta(days=3)},
        )
        entry = Entry.objects.get(author=aiko, title=DIARY[0][1])
        if not Comment.objects.filter(entry=entry).exists():
            diary_actions.add_comment(
                author=members["chika"],
                entry=entry,
                body="ケニア、私も好き！次は一緒に飲もう☕",
            )
        for nickname in ("ben", "daichi"):
            if not Like.objects.filter(entry=entry, member=members[nickname]).exists():
                diary_actions.toggle_like(member=members[nickname], entry=entry)
        if not FriendRequest.objects.filter(from_member=members["fumi"]).exists():
            actions.send_friend_request(
                sender=members["fumi"],
                recipient=aiko,
                message="Hi aiko, I saw you in the coffee club. Can we be friends?",
            )
        # The chat's history is written directly (_community); its mentions
        # are told here, once.
        mention = Mention.objects.filter(
            member=members["ben"], message__author=aiko
        ).first()
        if (
            mention is not None
            and not Notification.objects.filter(
                recipient=members["ben"], kind="mention"
            ).exists()
        ):
            notifications.notify(
                members["ben"].pk,
                "mention",
                actor_id=aiko.pk,
                target_id=mention.message_id,
            )
