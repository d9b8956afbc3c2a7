from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from chat import broadcast


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

    def logout(self, request):
        # Channels fixes the user when a socket connects and never looks again,
        # so the sockets of this session must be told to close.
        session_key = request.session.session_key
        super().logout(request)
        if session_key:
            broadcast.close_session_sockets(session_key)
