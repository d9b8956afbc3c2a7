from django.urls import path

from photos import views

app_name = "photos"

urlpatterns = [
    path("by/<str:nickname>/", views.album_list, name="album-list"),
    path("albums/new/", views.album_create, name="album-create"),
    path("albums/<id:album_id>/", views.album_detail, name="album-detail"),
    path("albums/<id:album_id>/edit/", views.album_edit, name="album-edit"),
    path("albums/<id:album_id>/delete/", views.album_delete, name="album-delete"),
    path("albums/<id:album_id>/add/", views.photo_add, name="photo-add"),
    path("<id:photo_id>/", views.photo_detail, name="photo-detail"),
    path("<id:photo_id>/edit/", views.photo_edit, name="photo-edit"),
    path("<id:photo_id>/delete/", views.photo_delete, name="photo-delete"),
    # The only way to a photo's bytes: size is "thumb" or "display" (views.SIZES).
    path("<id:photo_id>/<str:size>/", views.photo_file, name="photo-file"),
]
