from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path
from django.views.generic import TemplateView

#: Set by the example's settings (KODMOBI_EXAMPLE_TWO_FACTOR).
TWO_FACTOR: bool = getattr(settings, "TWO_FACTOR", False)

urlpatterns = [
    path(
        "",
        TemplateView.as_view(
            template_name="home.html", extra_context={"two_factor": TWO_FACTOR}
        ),
        name="home",
    ),
    path("login/", TemplateView.as_view(template_name="login.html"), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("accounts/", include("django_kodmobi.urls")),
    path("api/auth/", include("django_kodmobi.api.urls")),
    path("admin/", admin.site.urls),
]

if TWO_FACTOR:
    from two_factor.urls import urlpatterns as two_factor_urls

    # /account/login/ (a password, then a code) and /account/two_factor/.
    urlpatterns.append(path("", include(two_factor_urls)))
