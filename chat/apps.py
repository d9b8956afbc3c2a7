from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")

    def ready(self):
        from django.db.models.signals import post_delete

        from chat.models import MessagePhoto
        from photos.actions import remove_files_on_delete

        # A message's photos go when it is deleted (chat.actions.delete_message)
        # or its row goes (its topic, community or author deleted): their
        # files are removed after the commit, as diary photos' are.
        post_delete.connect(
            remove_files_on_delete, sender=MessagePhoto, dispatch_uid="chat-photo-files"
        )
