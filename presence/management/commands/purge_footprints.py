"""Delete footprints older than 30 days, and footprint erasures from before
this month (which no longer count against the monthly quota). Meant for a
scheduler, once a day (README, "Production")."""

from django.core.management.base import BaseCommand

from presence import footprints


class Command(BaseCommand):
    help = "Delete footprints older than 30 days and last month's erasures."

    def handle(self, *args, **options):
        deleted, erasures = footprints.purge()
        self.stdout.write(
            f"Deleted {deleted} footprints and {erasures} footprint erasures."
        )
