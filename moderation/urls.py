from django.urls import path

app_name = "moderation"

# Included at the root (project/urls.py). Each part adds its own routes.
urlpatterns: list = []
