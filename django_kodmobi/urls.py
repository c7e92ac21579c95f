"""``path("accounts/", include("django_kodmobi.urls"))``: the login pages."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "kodmobi"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", views.CodeView.as_view(), name="code"),
    path("login/resend/", views.ResendView.as_view(), name="resend"),
    path("login/restart/", views.RestartView.as_view(), name="restart"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
]
