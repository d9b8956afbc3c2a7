from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PhotosConfig(AppConfig):
    name = "photos"
    verbose_name = _("Photos")

    def ready(self):
        from django.db.models.signals import post_delete

        from photos.actions import remove_files_on_delete
        from photos.models import Photo

        # Cascades too (an album, a diary entry, a member deleted): their
        # photos' files are removed after the commit.
        post_delete.connect(
            remove_files_on_delete, sender=Photo, dispatch_uid="photos-files"
        )
