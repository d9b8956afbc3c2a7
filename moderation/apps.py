from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = _("Moderation")

    def ready(self):
        from moderation import kinds, member_kinds, report_kinds

        kinds.register_all()
        report_kinds.register_all()
        member_kinds.register_all()
