"""``path("accounts/", include("django_kodmobi.urls"))``: the login pages."""

from __future__ import annotations

from django.urls import path

from . import callbacks, contact_views, step_up_views, views

app_name = "kodmobi"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", views.CodeView.as_view(), name="code"),
    path("login/resend/", views.ResendView.as_view(), name="resend"),
    path("login/restart/", views.RestartView.as_view(), name="restart"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("step-up/", step_up_views.StepUpView.as_view(), name="step_up"),
    path("contacts/", contact_views.ContactsView.as_view(), name="contacts"),
    path(
        "contacts/code/",
        contact_views.ContactCodeView.as_view(),
        name="contact_code",
    ),
    path(
        "contacts/<str:contact_id>/",
        contact_views.ContactActionView.as_view(),
        name="contact_action",
    ),
    # kod.mobi reports a manual delivery here (CALLBACK_BASE_URL).
    path(
        "kodmobi/delivery/<str:delivery_id>/<str:token>/",
        callbacks.ManualCallbackView.as_view(),
        name="manual_callback",
    ),
]
