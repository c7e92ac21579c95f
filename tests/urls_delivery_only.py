"""A site that has kod.mobi only deliver codes (for allauth, two-factor):
none of this app's login pages or API."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
