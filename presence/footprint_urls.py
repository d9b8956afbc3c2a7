from django.urls import path

from presence import footprint_views

app_name = "footprints"

urlpatterns = [
    path("", footprint_views.footprint_list, name="list"),
    path(
        "left-on/<str:nickname>/delete/",
        footprint_views.footprint_erase,
        name="erase",
    ),
]
