from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts import views as account_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # Sign-up happens through invitations (or /join/ when OPEN_REGISTRATION is on);
    # allauth's own sign-up and e-mail based reset pages are not part of Enishi.
    path("accounts/signup/", RedirectView.as_view(pattern_name="accounts:join-open")),
    path(
        "accounts/password/reset/",
        account_views.password_reset_unavailable,
        name="password-reset-unavailable",
    ),
    path("accounts/", include("allauth.urls")),
    path("communities/", include("communities.urls")),
    path("notifications/", include("presence.urls")),
    path("", include("accounts.urls")),
]
