"""Phones and Web Push (presence/push_views.py), mounted at the site's root:
the service worker must be served from / to control every page."""

from django.urls import path

from presence import push_views

app_name = "push"

urlpatterns = [
    path("manifest.webmanifest", push_views.manifest, name="manifest"),
    path("sw.js", push_views.service_worker, name="service-worker"),
    path("offline/", push_views.offline, name="offline"),
    path("settings/devices/", push_views.device_list, name="devices"),
    path(
        "settings/devices/subscribe/",
        push_views.device_subscribe,
        name="device-subscribe",
    ),
    path(
        "settings/devices/<id:subscription_id>/remove/",
        push_views.device_remove,
        name="device-remove",
    ),
]
