from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("history/", views.history, name="history"),
    path("pronunciations/", views.pronunciations, name="pronunciations"),
    path("pronunciations/<uuid:pronunciation_id>/edit", views.pronunciation_edit, name="pronunciation-edit"),
    path("pronunciations/<uuid:pronunciation_id>/delete", views.pronunciation_delete_view, name="pronunciation-delete"),
]
