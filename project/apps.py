from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """What belongs to no single app: the revocation path."""

    name = "project"
    verbose_name = "Enishi"

    def ready(self):
        # Connects the receivers that send every narrowing of access through
        # the one revocation path.
        from project import revocation  # noqa: F401
