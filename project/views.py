from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from project.refusals import is_htmx, refusal


def csrf_failure(request, reason=""):
    """A form that went stale (its session changed, or its page is old): say so
    plainly; htmx forms show it at the form and keep what was typed."""
    message = _("This page is out of date. Reload it and try again; nothing was saved.")
    if is_htmx(request):
        return refusal(request, message, 403)
    return TemplateResponse(request, "403_csrf.html", {"message": message}, status=403)
