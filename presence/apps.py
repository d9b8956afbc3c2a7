from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PresenceConfig(AppConfig):
    name = "presence"
    verbose_name = _("Presence and notifications")

    def ready(self):
        from presence import kinds

        kinds.register_all()
