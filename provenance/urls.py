from django.urls import path

from . import views

urlpatterns = [
    path("provenance/", views.provenance_page, name="provenance"),
]
