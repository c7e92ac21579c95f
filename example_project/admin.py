from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class SiteUserAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ["username", "phone", "email", "is_staff"]
    search_fields = ["username", "phone", "email"]
    fieldsets = [*UserAdmin.fieldsets, ("Phone", {"fields": ["phone"]})]  # type: ignore[misc]
