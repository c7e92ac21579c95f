from __future__ import annotations

from django.conf import settings
from django.urls import include, path

from tests.urls import urlpatterns as app

from .floor import urlpatterns as floor

urlpatterns = [*app, *floor]
if getattr(settings, "ALLAUTH", False):
    urlpatterns.append(path("_allauth/", include("allauth.headless.urls")))
