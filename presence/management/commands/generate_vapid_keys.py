"""`python manage.py generate_vapid_keys`: a new VAPID key pair for Web Push,
printed as the environment lines to set (README, "Environment variables").

Run it once per site: changing the pair on a live site ends every device's
subscription (each was made with the old public key).
"""

from cryptography.hazmat.primitives import serialization
from django.core.management.base import BaseCommand
from py_vapid import Vapid
from py_vapid.utils import b64urlencode


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair and subject for Web Push, as the environment "
        "variables to set."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--subject",
            default="mailto:admin@example.com",
            help=(
                "Who push services may contact about this site's pushes: "
                "a mailto: or https: URL (default: %(default)s)."
            ),
        )

    def handle(self, *args, subject, **options):
        vapid = Vapid()
        vapid.generate_keys()
        # The raw forms browsers and py-vapid take: the public key as the
        # uncompressed P-256 point (PushManager's applicationServerKey), the
        # private key as its 32-byte number, both base64url without padding.
        public = vapid.public_key.public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint,
        )
        private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
        self.stdout.write(f"VAPID_PUBLIC_KEY={b64urlencode(public)}")
        self.stdout.write(f"VAPID_PRIVATE_KEY={b64urlencode(private)}")
        self.stdout.write(f"VAPID_SUBJECT={subject}")
        self.stderr.write(
            "Keep VAPID_PRIVATE_KEY secret. Changing the pair later ends every "
            "device's push subscription."
        )
