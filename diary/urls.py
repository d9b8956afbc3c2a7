from django.urls import path

from diary import views

app_name = "diary"

urlpatterns = [
    path("new/", views.entry_create, name="entry-create"),
    path("by/<str:nickname>/", views.member_entries, name="member-entries"),
    path("<id:entry_id>/", views.entry_detail, name="entry-detail"),
    path("<id:entry_id>/edit/", views.entry_edit, name="entry-edit"),
    path("<id:entry_id>/delete/", views.entry_delete, name="entry-delete"),
    path("<id:entry_id>/like/", views.entry_like, name="entry-like"),
    path("<id:entry_id>/comments/", views.comment_create, name="comment-create"),
    path(
        "comments/<id:comment_id>/delete/",
        views.comment_delete,
        name="comment-delete",
    ),
]
