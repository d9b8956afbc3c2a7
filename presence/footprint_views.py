"""The Footprints page (the owner's own, and no one else's) and a visitor's
"Delete my footprint". The rules are in presence/footprints.py."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts import access
from accounts.actions import ActionRefused
from accounts.models import Member
from presence import footprints


def footprint_list(request):
    """Who came to my pages in the last 30 days, latest first, one line per
    visitor with how often. Only ever the member's own: there is no URL for
    anyone else's. Off ("Leave footprints" unchecked), the page says so and
    lists nothing."""
    owner = request.user
    page = Paginator(footprints.visitors(owner), footprints.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.object_list = [
        {
            **row,
            "person": Member(
                pk=row["visitor_id"],
                nickname=row["visitor__nickname"],
                avatar=row["visitor__avatar"],
            ),
        }
        for row in page.object_list
    ]
    return TemplateResponse(
        request,
        "presence/footprints.html",
        {
            "page": page,
            "days_kept": footprints.DAYS_KEPT,
            "leaves_footprints": owner.leaves_footprints,
        },
    )


@require_POST
def footprint_erase(request, nickname):
    """Delete the footprints I left on this member (the button on their
    page). Answers on the home page: the member's page would leave a new one."""
    owner = access.access_member(request.user, nickname)
    try:
        footprints.erase_footprint(visitor=request.user, owner=owner)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        left = footprints.erasures_left(request.user)
        messages.success(
            request,
            _("Your footprint on %(nickname)s's page was deleted.")
            % {"nickname": owner.nickname}
            + " "
            + ngettext(
                "You can delete %(count)d more this month.",
                "You can delete %(count)d more this month.",
                left,
            )
            % {"count": left},
        )
    return redirect("home")
