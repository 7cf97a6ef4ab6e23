from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("keys/", views.api_keys, name="api-keys"),
    path("keys/<uuid:key_id>/revoke", views.api_key_revoke_view, name="api-key-revoke"),
]
