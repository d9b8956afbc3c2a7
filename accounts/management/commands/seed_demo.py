from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import actions
from accounts.models import Member

DEMO_PASSWORD = "enishi-demo"
DEMO_MEMBERS = {
    "aiko": "下北沢のカフェ巡りが好きです。Coffee, film cameras and long walks.",
    "ben": "Visiting Tokyo from Melbourne. Learning Japanese one kanji at a time.",
    "chika": "Illustrator. 猫と珈琲。",
    "daichi": "Runs the Saturday cupping sessions. Ask me about beans.",
}


class Command(BaseCommand):
    help = (
        "Create demo members and friendships (idempotent; refuses when DEBUG is off)."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo refuses to run with DJANGO_DEBUG off: demo members have "
                "a published password."
            )
        with transaction.atomic():
            members = []
            for nickname, introduction in DEMO_MEMBERS.items():
                member = Member.objects.filter(nickname=nickname).first()
                if member is None:
                    member = Member.objects.create_user(
                        nickname, DEMO_PASSWORD, introduction=introduction
                    )
                members.append(member)
            for i, member in enumerate(members):
                for other in members[i + 1 :]:
                    actions.make_friends(member, other)
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for member in members:
            self.stdout.write(f"  {member.nickname}")
