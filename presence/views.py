from django.template.response import TemplateResponse


def notifications(request):
    # Notifications are recorded once mentions, footprints and events exist.
    return TemplateResponse(
        request, "presence/notifications.html", {"notifications": []}
    )
