from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse
from django.template import Template
from django.urls import include, path


def widget_page(request: HttpRequest) -> HttpResponse:
    """A page of the project's own that embeds the login widget."""
    template = Template(
        "{% load kodmobi %}<h1>Welcome</h1>"
        '{% include "django_kodmobi/_messages.html" %}{% kodmobi_login %}'
    )
    from django.template import RequestContext

    return HttpResponse(template.render(RequestContext(request)))


_HOME = Template(
    '{% include "django_kodmobi/_messages.html" %}'
    "<p id='who'>Hello {{ who }}</p>"
    "{% if user.is_authenticated %}<form method='post' action='/logout/'>"
    "{% csrf_token %}<button>Log out</button></form>{% endif %}"
)


def home(request: HttpRequest) -> HttpResponse:
    from django.template import RequestContext

    who = request.user.get_username() if request.user.is_authenticated else "anonymous"
    return HttpResponse(_HOME.render(RequestContext(request, {"who": who})))


urlpatterns = [
    path("", home, name="home"),
    path("widget/", widget_page, name="widget"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django_kodmobi.urls")),
    path("api/auth/", include("django_kodmobi.api.urls")),
]
