"""``path("api/auth/", include("django_kodmobi.api.urls"))``"""

from __future__ import annotations

import importlib.util

from django.urls import path
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView

from django_kodmobi import __version__
from django_kodmobi.pages.bases import OpenToAll

from . import contacts, passkeys, session, step_up, views

app_name = "kodmobi_api"


@extend_schema(exclude=True)
class SchemaView(SpectacularAPIView):
    """The OpenAPI schema of this API (not listed in itself): named and
    versioned as the app, whatever the project's SPECTACULAR_SETTINGS say."""

    custom_settings = {
        "TITLE": "django-kodmobi",
        "DESCRIPTION": "Passwordless login by one-time codes through kod.mobi.",
        "VERSION": __version__,
        "ENUM_NAME_OVERRIDES": {
            "ContactKindEnum": [("phone", "phone"), ("email", "email")]
        },
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "django_kodmobi.api.schema.add_csrf_header",
        ],
    }


urlpatterns = [
    path("start/", views.StartView.as_view(), name="start"),
    path("resend/", views.ResendView.as_view(), name="resend"),
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("complete/", views.CompleteView.as_view(), name="complete"),
    path("channels/", views.ChannelsView.as_view(), name="channels"),
    path("status/", views.StatusView.as_view(), name="status"),
    path("config/", session.ConfigView.as_view(), name="config"),
    path("session/", session.SessionView.as_view(), name="session"),
    path("step-up/", step_up.StepUpStartView.as_view(), name="step_up"),
    path("step-up/verify/", step_up.StepUpConfirmView.as_view(), name="step_up_verify"),
    path("contacts/", contacts.ContactListView.as_view(), name="contacts"),
    path(
        "contacts/verify/",
        contacts.ContactVerifyView.as_view(),
        name="contact_verify",
    ),
    # Any text reaches the view, so a bad id is a JSON 404 like an unknown one.
    path("contacts/<str:contact_id>/", contacts.ContactView.as_view(), name="contact"),
    path("passkeys/", passkeys.PasskeyListView.as_view(), name="passkeys"),
    path(
        "passkeys/register/options/",
        passkeys.PasskeyRegisterOptionsView.as_view(),
        name="passkey_register_options",
    ),
    path(
        "passkeys/register/",
        passkeys.PasskeyRegisterView.as_view(),
        name="passkey_register",
    ),
    path(
        "passkeys/login/options/",
        passkeys.PasskeyLoginOptionsView.as_view(),
        name="passkey_login_options",
    ),
    path("passkeys/login/", passkeys.PasskeyLoginView.as_view(), name="passkey_login"),
    path("passkeys/<str:passkey_id>/", passkeys.PasskeyView.as_view(), name="passkey"),
    path("schema/", SchemaView.as_view(), name="schema"),
]

if importlib.util.find_spec("rest_framework_simplejwt") is not None:
    from drf_spectacular.utils import OpenApiResponse
    from rest_framework_simplejwt.views import TokenRefreshView

    @extend_schema(
        summary="JWT: trade the refresh token for a new access token",
        responses={
            200: OpenApiResponse(description="A new access token."),
            400: OpenApiResponse(description="No refresh token sent."),
            401: OpenApiResponse(description="The refresh token is not valid."),
            415: OpenApiResponse(description="A body simplejwt cannot parse."),
        },
    )
    class JwtRefreshView(OpenToAll, TokenRefreshView):
        """With ``API_LOGIN = "jwt"``: post the ``refresh`` token that verify
        returned, get a new ``access`` token."""

        schema = AutoSchema()

    # With API_LOGIN = "jwt": trade the refresh token for a new access token.
    urlpatterns.append(
        path("jwt/refresh/", JwtRefreshView.as_view(), name="jwt_refresh")
    )
