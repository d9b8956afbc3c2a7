"""The notifications page, marking read, per-kind settings and topic mutes.

Thin: presence/notifications.py decides what a member may see and records
the changes (and pushes the new badge to every open tab after commit)."""

from django import forms
from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat import access as chat_access
from presence import notifications
from presence.models import TopicMute
from project.refusals import refusal


@require_GET
def notifications_list(request):
    """The member's notifications, newest line first: one query for the
    page of lines, one for their latest rows, one per kind for the targets."""
    page = Paginator(
        notifications.line_groups(request.user), notifications.PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return TemplateResponse(
        request,
        "presence/notifications.html",
        {"page": page, "lines": notifications.lines(page.object_list)},
    )


@require_GET
def notification_badge(request):
    """The badge as the navigation shows it: what a tab asks for each time
    its socket (re)opens, since a push may have been lost meanwhile
    (static/js/notifications.js). Never from a cache."""
    response = TemplateResponse(request, notifications.BADGE_TEMPLATE, {})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def notification_open(request, notification_id):
    """Mark the line read and go to what it is about; a line the member may
    no longer see answers as a missing id."""
    url = notifications.open_url(request.user, notification_id)
    if url is None:
        raise Http404
    return HttpResponseRedirect(url, status=303)


@require_POST
def notification_read(request, notification_id):
    notification = notifications.mark_read(
        member=request.user, notification_id=notification_id
    )
    if notification is None:
        raise Http404
    if request.htmx:
        line = next(
            iter(
                notifications.lines(
                    notifications.line_groups(request.user).filter(
                        group_key=notification.group_key
                    )
                )
            ),
            None,
        )
        if line is None:
            raise Http404
        return TemplateResponse(
            request, "presence/notifications.html#line", {"line": line}
        )
    return redirect("presence:notifications")


@require_POST
def notifications_read_all(request):
    notifications.mark_all_read(member=request.user)
    return redirect("presence:notifications")


class NotificationSettingsForm(forms.Form):
    kinds = forms.MultipleChoiceField(
        label=gettext_lazy("Tell me about"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kinds"].choices = [
            (kind.name, kind.label) for kind in notifications.KINDS.values()
        ]


@require_http_methods(["GET", "POST"])
def notification_settings(request):
    """A checkbox per kind, on by default; off, notify() records nothing of
    that kind."""
    if request.method == "POST":
        form = NotificationSettingsForm(request.POST)
        if form.is_valid():
            chosen = set(form.cleaned_data["kinds"])
            with transaction.atomic():
                for name in notifications.KINDS:
                    notifications.set_enabled(
                        member=request.user, kind=name, enabled=name in chosen
                    )
            flash.success(request, _("Your notification settings are saved."))
            return redirect("presence:notification-settings")
    else:
        form = NotificationSettingsForm(
            initial={"kinds": sorted(notifications.enabled_kinds(request.user))}
        )
    return TemplateResponse(
        request, "presence/notifications_settings.html", {"form": form}
    )


@require_POST
def topic_mute(request, topic_id):
    """Mute (muted=1) or unmute (muted=0) notifications from a topic the
    member may read (chat.access: anyone else gets "not found")."""
    topic, _membership = chat_access.access_topic(request.user, topic_id)
    muted = request.POST.get("muted")
    if muted not in ("0", "1"):
        return refusal(request, _("Choose mute or unmute."), 400)
    if muted == "1":
        TopicMute.objects.get_or_create(member=request.user, topic=topic)
    else:
        TopicMute.objects.filter(member=request.user, topic=topic).delete()
    if request.htmx:
        return TemplateResponse(
            request,
            "presence/notifications_mute.html",
            {"topic": topic, "topic_muted": muted == "1"},
        )
    return redirect(topic)
