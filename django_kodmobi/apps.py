from __future__ import annotations

from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class KodMobiConfig(AppConfig):
    name = "django_kodmobi"
    label = "kodmobi"
    verbose_name = _("kod.mobi login")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks and the settings-change receiver.
        from django.conf import settings
        from django.core.checks import register
        from django.db.models.signals import post_save

        from . import checks, login_checks, provider  # noqa: F401
        from .services.trust import end_trust_on_new_password

        post_save.connect(
            end_trust_on_new_password,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="django_kodmobi.trust.new_password",
        )

        if apps.is_installed("allauth.account"):
            from .contrib.allauth import check_code_format

            register(check_code_format)
        if apps.is_installed("django_kodmobi.contrib.otp"):
            from .contrib.otp.trust import connect_trusted_browsers

            connect_trusted_browsers()
        if apps.is_installed("two_factor"):
            from .contrib.two_factor import check_gateway

            register(check_gateway)
