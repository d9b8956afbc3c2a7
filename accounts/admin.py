from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import gettext_lazy as _

from accounts import actions
from accounts.models import Friendship, Invitation, Member


class MemberCreationForm(AdminUserCreationForm):
    class Meta:
        model = Member
        fields = ("nickname",)


class MemberChangeForm(UserChangeForm):
    class Meta:
        model = Member
        fields = "__all__"


@admin.register(Member)
class MemberAdmin(UserAdmin):
    form = MemberChangeForm
    add_form = MemberCreationForm
    list_display = ("nickname", "is_active", "is_staff", "date_joined", "invited_by")
    list_filter = ("is_active", "is_staff")
    search_fields = ("nickname",)
    ordering = ("nickname_key",)
    raw_id_fields = ("invited_by",)
    fieldsets = (
        (None, {"fields": ("nickname", "password")}),
        (_("Profile"), {"fields": ("introduction", "avatar", "invited_by")}),
        (
            _("Permissions"),
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )

    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("nickname", "password1", "password2")},
        ),
    )


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "inviter",
        "note",
        "created_at",
        "expires_at",
        "used_by",
        "revoked_at",
    )
    list_select_related = ("inviter", "used_by")
    readonly_fields = (
        "inviter",
        "created_at",
        "expires_at",
        "used_at",
        "used_by",
        "revoked_at",
    )
    fields = ("note", *readonly_fields)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        invitation, token = actions.create_invitation(inviter=None, note=obj.note)
        obj.pk = invitation.pk
        link = request.build_absolute_uri(f"/join/{token}/")
        self.message_user(
            request,
            _("Invitation link (shown once, copy it now): %(link)s") % {"link": link},
        )


@admin.register(Friendship)
class FriendshipAdmin(admin.ModelAdmin):
    list_display = ("member", "friend", "created_at")
    list_select_related = ("member", "friend")
    raw_id_fields = ("member", "friend")
