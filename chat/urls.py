from django.urls import path

from chat import photo_views, views
from presence import here_views

app_name = "chat"

urlpatterns = [
    path("topics/<id:topic_id>/", views.topic_detail, name="topic-detail"),
    path("topics/<id:topic_id>/messages/", views.message_list, name="message-list"),
    path("topics/<id:topic_id>/send/", views.message_create, name="message-create"),
    path("topics/<id:topic_id>/read/", views.topic_read, name="topic-read"),
    # Who's here, for one viewer (presence/here_views.py).
    path("topics/<id:topic_id>/here/", here_views.here_list, name="topic-here"),
    path("messages/<id:message_id>/edit/", views.message_edit, name="message-edit"),
    path(
        "messages/<id:message_id>/delete/", views.message_delete, name="message-delete"
    ),
    path("messages/<id:message_id>/like/", views.message_like, name="message-like"),
    # The only way to a message photo's bytes: size is "thumb" or "display".
    path(
        "messages/photos/<id:photo_id>/<str:size>/",
        photo_views.message_photo,
        name="message-photo",
    ),
]
