"""The diary's forms. Labels are what members (and screen readers) find the
controls by: "Title", "Body", "Who can see this", "Photos (up to 3)",
"Comment"."""

import importlib.util

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.audience import Audience
from diary.actions import BODY_MAX, COMMENT_MAX, MAX_PHOTOS, TITLE_MAX


def photos_available() -> bool:
    """Whether the photos app can attach photos to entries."""
    return importlib.util.find_spec("photos.actions") is not None


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input (Django's documented recipe)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class EntryForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX)
    body = forms.CharField(
        label=_("Body"),
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 12}),
    )
    audience = forms.ChoiceField(label=_("Who can see this"), choices=Audience.choices)

    def __init__(self, *args, with_photos: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if with_photos and photos_available():
            self.fields["photos"] = MultipleFileField(
                label=_("Photos (up to 3)"), required=False
            )

    def clean_photos(self):
        files = self.cleaned_data.get("photos") or []
        if len(files) > MAX_PHOTOS:
            raise forms.ValidationError(
                _("A diary entry has at most %(max)d photos."),
                params={"max": MAX_PHOTOS},
            )
        return files


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Comment"),
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
