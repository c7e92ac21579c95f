from __future__ import annotations

from django.urls import include, path

from .urls import urlpatterns as base

urlpatterns = [*base, path("allauth/", include("allauth.urls"))]
