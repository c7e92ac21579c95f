"""``path("api/auth/", include("django_kodmobi.api.urls"))``"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import views

app_name = "kodmobi_api"

urlpatterns = [
    path("start/", views.StartView.as_view(), name="start"),
    path("resend/", views.ResendView.as_view(), name="resend"),
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("complete/", views.CompleteView.as_view(), name="complete"),
    path("channels/", views.ChannelsView.as_view(), name="channels"),
    path("status/", views.StatusView.as_view(), name="status"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]
