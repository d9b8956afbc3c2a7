from django.urls import path

from presence import views

app_name = "presence"

urlpatterns = [
    path("", views.notifications_list, name="notifications"),
    path("read/", views.notifications_read_all, name="notifications-read-all"),
    path("badge/", views.notification_badge, name="notification-badge"),
    path(
        "<id:notification_id>/open/",
        views.notification_open,
        name="notification-open",
    ),
    path(
        "<id:notification_id>/read/",
        views.notification_read,
        name="notification-read",
    ),
    path("settings/", views.notification_settings, name="notification-settings"),
    path("topics/<id:topic_id>/mute/", views.topic_mute, name="topic-mute"),
]
