"""Forms for albums and uploads. The checks that matter (formats, sizes,
counts) are the actions' (photos/actions.py); these take the input."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.audience import Audience
from photos.models import Album, Photo

# What a file picker offers; the server decides by content (photos/images.py).
ACCEPT = "image/jpeg,image/png,image/gif,image/webp,image/heic,image/heif,.heic,.heif"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotoFilesField(forms.FileField):
    """Several files from one <input type="file" multiple>. Empty files get
    through to photos.images, which refuses them naming the file."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT}))
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            if not data and self.required:
                raise forms.ValidationError(self.error_messages["required"])
            return [super(PhotoFilesField, self).clean(f, initial) for f in data]
        cleaned = super().clean(data, initial)
        return [cleaned] if cleaned else []


class AlbumForm(forms.Form):
    title = forms.CharField(
        label=_("Title"), max_length=Album._meta.get_field("title").max_length
    )
    audience = forms.ChoiceField(label=_("Who can see this"), choices=Audience.choices)


class PhotoUploadForm(forms.Form):
    photos = PhotoFilesField(
        label=_("Photos"), error_messages={"required": _("Choose at least one photo.")}
    )
    caption = forms.CharField(
        label=_("Caption"),
        max_length=Photo._meta.get_field("caption").max_length,
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["photos"].help_text = gettext(
            "JPEG, PNG, GIF, WebP or HEIC, at most %(max)d MB each. Where and with"
            " what camera it was taken is removed."
        ) % {"max": settings.PHOTOS_MAX_BYTES // (1024 * 1024)}


class CaptionForm(forms.Form):
    caption = forms.CharField(
        label=_("Caption"),
        max_length=Photo._meta.get_field("caption").max_length,
        required=False,
    )
