from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("join/", views.join, name="join-open"),
    path("join/<str:token>/", views.join, name="join"),
    path("friends/", views.friend_list, name="friend-list"),
    path("invitations/", views.invitation_list, name="invitation-list"),
    path(
        "invitations/<id:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("settings/profile/", views.profile_edit, name="profile-edit"),
    path("members/<str:nickname>/", views.member_detail, name="member-detail"),
    path("members/<str:nickname>/avatar/", views.member_avatar, name="member-avatar"),
]
