from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KodmobiOTPConfig(AppConfig):
    name = "django_kodmobi.contrib.otp"
    label = "kodmobi_otp"
    verbose_name = _("kod.mobi second factor")
    default_auto_field = "django.db.models.BigAutoField"
