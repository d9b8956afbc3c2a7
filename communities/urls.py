from django.urls import path

from communities import views

app_name = "communities"

urlpatterns = [
    path("", views.directory, name="directory"),
    path("mine/", views.my_communities, name="mine"),
    path("new/", views.community_create, name="create"),
    path("<id:community_id>/", views.community_detail, name="detail"),
    path("<id:community_id>/edit/", views.community_edit, name="edit"),
    path("<id:community_id>/icon/", views.community_icon, name="icon"),
    path("<id:community_id>/members/", views.member_list, name="members"),
    path("<id:community_id>/join/", views.community_join, name="join"),
    path("<id:community_id>/leave/", views.community_leave, name="leave"),
    path("<id:community_id>/invite/", views.member_invite, name="invite"),
    path(
        "<id:community_id>/requests/<id:member_id>/",
        views.request_decide,
        name="request-decide",
    ),
    path(
        "<id:community_id>/members/<id:member_id>/role/",
        views.member_role,
        name="member-role",
    ),
    path("<id:community_id>/topics/new/", views.topic_create, name="topic-create"),
]
