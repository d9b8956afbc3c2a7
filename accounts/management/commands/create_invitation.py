from django.core.management.base import BaseCommand

from accounts import actions


class Command(BaseCommand):
    help = "Print a single-use invitation link with no inviter, to bootstrap a site."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where the site is served (default: %(default)s).",
        )
        parser.add_argument("--note", default="", help="A note shown in the admin.")

    def handle(self, *args, base_url, note, **options):
        invitation, token = actions.create_invitation(inviter=None, note=note)
        self.stdout.write(f"{base_url.rstrip('/')}/join/{token}/")
        self.stderr.write(
            f"Valid until {invitation.expires_at:%Y-%m-%d %H:%M %Z}; it works once."
        )
