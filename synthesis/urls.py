from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("history/", views.history, name="history"),
    path("voices/<str:voice_id>/preview", views.voice_preview, name="voice-preview"),
    path("pronunciations/", views.pronunciations, name="pronunciations"),
    path("pronunciations/<uuid:pronunciation_id>/edit", views.pronunciation_edit, name="pronunciation-edit"),
    path("pronunciations/<uuid:pronunciation_id>/delete", views.pronunciation_delete_view, name="pronunciation-delete"),
]
