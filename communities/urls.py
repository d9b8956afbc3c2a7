from django.urls import path

from communities import views

app_name = "communities"

urlpatterns = [
    path("", views.directory, name="directory"),
    path("mine/", views.my_communities, name="mine"),
    path("new/", views.community_create, name="create"),
    path("<int:community_id>/", views.community_detail, name="detail"),
    path("<int:community_id>/edit/", views.community_edit, name="edit"),
    path("<int:community_id>/icon/", views.community_icon, name="icon"),
    path("<int:community_id>/members/", views.member_list, name="members"),
    path("<int:community_id>/join/", views.community_join, name="join"),
    path("<int:community_id>/leave/", views.community_leave, name="leave"),
    path("<int:community_id>/invite/", views.member_invite, name="invite"),
    path(
        "<int:community_id>/requests/<int:member_id>/",
        views.request_decide,
        name="request-decide",
    ),
    path(
        "<int:community_id>/members/<int:member_id>/role/",
        views.member_role,
        name="member-role",
    ),
    path("<int:community_id>/topics/new/", views.topic_create, name="topic-create"),
]
