from __future__ import annotations

from tests.urls import urlpatterns as app

from .floor import urlpatterns as floor

urlpatterns = [*app, *floor]
