from django.urls import path

from . import views

urlpatterns = [
    path("voices/", views.voices_page, name="voices"),
    path("voices/<uuid:voice_id>/delete", views.voice_delete_view, name="voice-delete"),
]
