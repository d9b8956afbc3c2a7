from django import forms
from django.utils.translation import gettext_lazy as _

from communities.models import Category, JoinPolicy, TopicPolicy


class CommunityForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    description = forms.CharField(
        label=_("Description"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    join_policy = forms.ChoiceField(
        label=_("Who may join"),
        choices=JoinPolicy.choices,
        widget=forms.RadioSelect,
        initial=JoinPolicy.OPEN,
    )
    topic_policy = forms.ChoiceField(
        label=_("Who may start topics"),
        choices=TopicPolicy.choices,
        widget=forms.RadioSelect,
        initial=TopicPolicy.MEMBERS,
    )
    # Not required: a form from before events (an old tab) keeps the
    # community's policy (a new community: any member).
    event_policy = forms.ChoiceField(
        label=_("Who may create events"),
        choices=TopicPolicy.choices,
        widget=forms.RadioSelect,
        initial=TopicPolicy.MEMBERS,
        required=False,
    )
    icon = forms.FileField(
        label=_("Icon"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the community a name."))
        return name


class CommunityEditForm(CommunityForm):
    remove_icon = forms.BooleanField(label=_("Remove the icon"), required=False)


class TopicForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120)
    body = forms.CharField(
        label=_("Message"), max_length=4000, widget=forms.Textarea(attrs={"rows": 5})
    )
    client_id = forms.CharField(max_length=64, widget=forms.HiddenInput)


class DirectoryForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    category = forms.ChoiceField(
        label=_("Category"),
        choices=[("", _("All categories")), *Category.choices],
        required=False,
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        choices=[("activity", _("Latest activity")), ("members", _("Most members"))],
        required=False,
    )
