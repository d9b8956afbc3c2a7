from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("join/", views.join, name="join-open"),
    path("join/<str:token>/", views.join, name="join"),
    path("friends/", views.friend_list, name="friend-list"),
    path("friends/requests/", views.friend_requests, name="friend-requests"),
    path(
        "friends/requests/<id:request_id>/accept/",
        views.friend_request_accept,
        name="friend-request-accept",
    ),
    path(
        "friends/requests/<id:request_id>/decline/",
        views.friend_request_decline,
        name="friend-request-decline",
    ),
    path(
        "friends/requests/<id:request_id>/cancel/",
        views.friend_request_cancel,
        name="friend-request-cancel",
    ),
    path("settings/blocks/", views.block_list, name="block-list"),
    path("settings/blocks/<id:member_id>/unblock/", views.unblock, name="unblock"),
    # Before members/<nickname>/: "search" is not a nickname one can choose
    # (accounts/nicknames.py).
    path("members/search/", views.member_search, name="member-search"),
    path("invitations/", views.invitation_list, name="invitation-list"),
    path(
        "invitations/<id:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("settings/profile/", views.profile_edit, name="profile-edit"),
    path("members/<str:nickname>/", views.member_detail, name="member-detail"),
    path("members/<str:nickname>/avatar/", views.member_avatar, name="member-avatar"),
    path(
        "members/<str:nickname>/friends/", views.member_friends, name="member-friends"
    ),
    path(
        "members/<str:nickname>/friend-request/",
        views.friend_request_send,
        name="friend-request-send",
    ),
    path("members/<str:nickname>/unfriend/", views.unfriend, name="unfriend"),
    path("members/<str:nickname>/block/", views.block, name="block"),
]
