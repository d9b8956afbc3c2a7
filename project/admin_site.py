"""The admin site, entered through the member login.

Django's admin has a login form of its own that nothing throttles: fifteen
wrong passwords, then the right one, and a staff account was in. Here the
admin's login, logout and password change are the member ones (allauth's,
throttled per address and per nickname), so there is one way in and out, and
it is counted.
"""

from allauth.account import views as account_views
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from project.input import local_path


class AdminSite(admin.AdminSite):
    @method_decorator(never_cache)
    @login_not_required
    def login(self, request, extra_context=None):
        if request.user.is_authenticated:
            if self.has_permission(request):
                return redirect(self._next_url(request))
            # A member who is not staff: the member login would send them
            # straight back here, and here back to the login. Say no instead.
            raise PermissionDenied
        return redirect_to_login(self._next_url(request), reverse("account_login"))

    def logout(self, request, extra_context=None):
        return account_views.logout(request)

    def password_change(self, request, extra_context=None):
        return redirect("account_change_password")

    def _next_url(self, request):
        next_path = local_path(request, request.GET.get(REDIRECT_FIELD_NAME, ""))
        return next_path or reverse("admin:index", current_app=self.name)
