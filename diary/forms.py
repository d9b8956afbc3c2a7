"""The diary's forms. Labels are what members (and screen readers) find the
controls by: "Title", "Body", "Who can see this", "Photos (up to 3)",
"Comment"."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.audience import Audience
from diary.actions import BODY_MAX, COMMENT_MAX, MAX_PHOTOS, TITLE_MAX
from photos.forms import PhotoFilesField


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
        if with_photos:
            self.fields["photos"] = PhotoFilesField(
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
