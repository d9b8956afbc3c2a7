from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts import nicknames
from accounts.audience import Audience
from accounts.models import FriendRequest, Member
from project.timezones import zone_names


class LoginForm(AllauthLoginForm):
    """allauth's login form, asking for a nickname, compared as nicknames are."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = _("Nickname")
        self.fields["login"].widget.attrs.update(
            {"placeholder": "", "autocomplete": "username", "autocapitalize": "none"}
        )
        self.fields["password"].label = _("Password")
        self.fields["password"].widget.attrs["placeholder"] = ""
        self.fields["password"].help_text = ""
        self.fields["remember"].label = _("Keep me logged in")

    def clean_login(self):
        login = nicknames.normalize(self.cleaned_data["login"])
        stored = (
            Member.objects.filter(nickname_key=nicknames.nickname_key(login))
            .values_list("nickname", flat=True)
            .first()
        )
        return stored or login


class JoinForm(forms.Form):
    # One limit, nicknames.MAX_LENGTH, for the model, the validator and what
    # the browser lets a person type; the validator measures it after
    # normalising and says so in its own words (no second, generic message).
    nickname = forms.CharField(
        label=_("Nickname"),
        validators=[nicknames.validate_nickname],
        help_text=_("How other members will know you. Not your real name."),
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "maxlength": nicknames.MAX_LENGTH}
        ),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password (again)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords do not match."))
        return cleaned


class InvitationForm(forms.Form):
    note = forms.CharField(
        label=_("Note to yourself (optional)"),
        max_length=100,
        required=False,
        help_text=_("For example who the link is for. Only you see it."),
    )


class ProfileForm(forms.Form):
    introduction = forms.CharField(
        label=_("Self-introduction"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    avatar = forms.FileField(
        label=_("Avatar"),
        required=False,
        help_text=_(
            "JPEG, PNG, GIF, WebP or HEIC. Location and camera data are removed."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )
    remove_avatar = forms.BooleanField(label=_("Remove my avatar"), required=False)
    # Not required: a form that leaves one out (an old tab, a script) keeps
    # the member's current choice rather than failing.
    introduction_audience = forms.ChoiceField(
        label=_("Who can see your self-introduction"),
        choices=Audience.choices,
        required=False,
    )
    friends_audience = forms.ChoiceField(
        label=_("Who can see your friend list"),
        choices=Audience.choices,
        required=False,
    )
    default_audience = forms.ChoiceField(
        label=_("Default audience for new diary entries and albums"),
        choices=Audience.choices,
        required=False,
    )
    # Fair both ways (presence/footprints.py): off, the member leaves none
    # and sees no one's.
    leaves_footprints = forms.BooleanField(
        label=_("Leave footprints"),
        required=False,
        help_text=_(
            "Members whose pages you open see that you came, and you see who"
            " came to yours. Off: neither."
        ),
    )

    # Who's here (presence/here.py): off, the member is listed on no topic
    # page and their typing is not shown.
    shows_presence = forms.BooleanField(
        label=_("Show when I am here"),
        required=False,
        help_text=_(
            "Others on a topic's page see you in its list of who is here,"
            " and see when you are typing."
        ),
    )

    # Times are shown and entered in it (project/timezones.py). Not required,
    # as the audiences: a form without it keeps the member's zone.
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=lambda: [(name, name) for name in zone_names()],
        required=False,
        help_text=_("Times are shown in this zone, and you enter times in it."),
    )

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if avatar and avatar.size > settings.AVATAR_MAX_BYTES:
            raise forms.ValidationError(
                _("This file is too large (at most %(max)d MB)."),
                params={"max": settings.AVATAR_MAX_BYTES // (1024 * 1024)},
            )
        return avatar


class FriendRequestForm(forms.Form):
    message = forms.CharField(
        label=_("Message (optional)"),
        max_length=FriendRequest.MESSAGE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MemberSearchForm(forms.Form):
    # Longer than any nickname's key could be after NFKC (which can lengthen
    # a character: "㍿" is "株式会社"), short enough to bound the query.
    q = forms.CharField(
        label=_("Search members"),
        max_length=100,
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "autocapitalize": "none"}
        ),
    )
