from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django_otp.decorators import otp_required
from two_factor.urls import urlpatterns as two_factor_urls

from .urls import urlpatterns as base


def protected(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"second factor passed: {request.user.get_username()}")


urlpatterns = [
    *base,
    path("", include(two_factor_urls)),
    path("otp/protected/", login_required(otp_required(protected))),
]
