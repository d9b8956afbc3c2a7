from django.urls import path

from presence import views

app_name = "presence"

urlpatterns = [
    path("", views.notifications, name="notifications"),
]
