from django.urls import path

from . import views

urlpatterns = [
    path("ops/", views.ops_panel, name="ops-panel"),
    path("ops/switches/<slug:name>/", views.ops_switch, name="ops-switch"),
    path("ops/actions/<slug:action>/", views.ops_action, name="ops-action"),
]
