from allauth.account import views as allauth_views
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path, register_converter
from django.views.generic import RedirectView
from django.views.i18n import set_language

from accounts import views as account_views
from project import metrics, views
from project.converters import IdConverter

# A pool with no connection left answers 503 with Retry-After, not 500.
handler500 = "project.overload.server_error"


@login_not_required
def favicon(request):
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


# Before the apps' urls.py are included: their ids are <id:...>.
register_converter(IdConverter, "id")

urlpatterns = [
    path("", views.home, name="home"),
    # Visitors choose their language before logging in too; Django's view is not
    # marked login_not_required, so LoginRequiredMiddleware would bounce them.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    # Browsers ask for /favicon.ico on pages with no icon link (Django's own
    # error pages among them); the site's icon, not a 404.
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    # Prometheus' default path. Staff or METRICS_TOKEN only; anyone else gets a
    # 404 (project/metrics.py).
    path("metrics", metrics.metrics, name="metrics"),
    # Sign-up happens through invitations (or /join/ when OPEN_REGISTRATION is on);
    # allauth's own sign-up and e-mail based reset pages are not part of Enishi.
    path(
        "accounts/signup/",
        login_not_required(RedirectView.as_view(pattern_name="accounts:join-open")),
    ),
    path(
        "accounts/password/reset/",
        account_views.password_reset_unavailable,
        name="password-reset-unavailable",
    ),
    # Only the account views Enishi uses. include("allauth.urls") would also
    # mount e-mail management (a member could attach an address), sign-up,
    # reauthentication, login by code and reset by e-mail (docs/security.md).
    path("accounts/login/", allauth_views.login, name="account_login"),
    path("accounts/logout/", allauth_views.logout, name="account_logout"),
    path(
        "accounts/password/change/",
        allauth_views.password_change,
        name="account_change_password",
    ),
    # Where allauth sends a deactivated member who typed the right password.
    path(
        "accounts/inactive/",
        allauth_views.account_inactive,
        name="account_inactive",
    ),
    path("communities/", include("communities.urls")),
    path("notifications/", include("presence.urls")),
    path("footprints/", include("presence.footprint_urls")),
    # The manifest, the service worker (/sw.js: its folder is its scope), the
    # offline page and the devices that receive Web Push.
    path("", include("presence.push_urls")),
    path("diary/", include("diary.urls")),
    path("photos/", include("photos.urls")),
    path("", include("events.urls")),
    path("", include("moderation.urls")),
    path("", include("chat.urls")),
    path("", include("accounts.urls")),
]
