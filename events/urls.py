from django.urls import path

from events import live_views, views

app_name = "events"

# Included at the root (project/urls.py): the calendar settings page sits with
# the member's other settings.
urlpatterns = [
    path("events/", views.event_list, name="list"),
    path("events/new/<id:community_id>/", views.event_create, name="create"),
    path("events/<id:event_id>/", live_views.event_detail, name="detail"),
    path("events/<id:event_id>/rsvp/", live_views.rsvp, name="rsvp"),
    path("events/<id:event_id>/attendees/", live_views.attendees, name="attendees"),
    path("events/<id:event_id>/edit/", views.event_edit, name="edit"),
    path("events/<id:event_id>/cancel/", views.event_cancel, name="cancel"),
    path("events/<id:event_id>/close/", views.event_close, name="close"),
    path("events/<id:event_id>/message/", views.event_message, name="message"),
    path("events/<id:event_id>/invite/", views.event_invite, name="invite"),
    path(
        "events/<id:event_id>/attendees.csv",
        views.attendees_csv,
        name="attendees-csv",
    ),
    path("events/<id:event_id>/calendar.ics", views.event_ics, name="ics"),
    path("events/feed/<str:token>.ics", views.calendar_feed, name="feed"),
    path("settings/calendar/", views.calendar_settings, name="calendar-settings"),
]
