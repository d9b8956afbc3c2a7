from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts import nicknames


class AccountAdapter(DefaultAccountAdapter):
    # Members log in with a nickname; allauth's own wording says "username"
    # (ユーザー名), a word no other screen uses.
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_password_mismatch": _("The nickname or password is not correct."),
    }

    def is_open_for_signup(self, request):
        # allauth's own sign-up page is not used: members join through
        # /join/<token>/, or /join/ when OPEN_REGISTRATION is on.
        return settings.OPEN_REGISTRATION

    def _get_login_attempts_cache_key(self, request, **credentials):
        # allauth counts failed logins per "<site domain>:<login lowercased>".
        # Without django.contrib.sites the domain is the request's Host header,
        # which the client picks (any port, any name in ALLOWED_HOSTS), so each
        # Host would get five fresh tries at the same nickname. Count per
        # nickname only, in the form nicknames are compared in. (A private hook
        # of allauth's: tests/accounts/test_throttling.py pins what it does.)
        return nicknames.nickname_key(credentials.get("username") or "")
