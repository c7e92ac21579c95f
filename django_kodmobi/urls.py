"""``path("accounts/", include("django_kodmobi.urls"))``: the login pages."""

from __future__ import annotations

from django.urls import path

from . import callbacks
from .pages import contacts, login, passkeys, step_up, trust

app_name = "kodmobi"

urlpatterns = [
    path("login/", login.LoginView.as_view(), name="login"),
    path("login/code/", login.CodeView.as_view(), name="code"),
    path("login/resend/", login.ResendView.as_view(), name="resend"),
    path("login/restart/", login.RestartView.as_view(), name="restart"),
    path("logout/", login.LogoutView.as_view(), name="logout"),
    path(
        "logout/everywhere/",
        trust.LogoutEverywhereView.as_view(),
        name="logout_everywhere",
    ),
    path("step-up/", step_up.StepUpView.as_view(), name="step_up"),
    path(
        "browsers/forget/", trust.ForgetBrowsersView.as_view(), name="forget_browsers"
    ),
    path("contacts/", contacts.ContactsView.as_view(), name="contacts"),
    path(
        "contacts/code/",
        contacts.ContactCodeView.as_view(),
        name="contact_code",
    ),
    path(
        "contacts/<str:contact_id>/",
        contacts.ContactActionView.as_view(),
        name="contact_action",
    ),
    path("passkeys/offer/", passkeys.OfferView.as_view(), name="passkey_offer"),
    path(
        "passkeys/register/options/",
        passkeys.RegisterOptionsView.as_view(),
        name="passkey_register_options",
    ),
    path(
        "passkeys/register/", passkeys.RegisterView.as_view(), name="passkey_register"
    ),
    path(
        "passkeys/login/options/",
        passkeys.LoginOptionsView.as_view(),
        name="passkey_login_options",
    ),
    path("passkeys/login/", passkeys.LoginView.as_view(), name="passkey_login"),
    path(
        "passkeys/<str:passkey_id>/remove/",
        passkeys.RemoveView.as_view(),
        name="passkey_remove",
    ),
    # kod.mobi reports a manual delivery here (CALLBACK_BASE_URL).
    path(
        "kodmobi/delivery/<str:delivery_id>/<str:token>/",
        callbacks.ManualCallbackView.as_view(),
        name="manual_callback",
    ),
]
