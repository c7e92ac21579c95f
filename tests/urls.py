from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse
from django.template import Template
from django.urls import include, path
from django.views import View
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_kodmobi.step_up import (
    StepUpRequired,
    StepUpRequiredMixin,
    kodmobi_step_up_required,
)


def widget_page(request: HttpRequest) -> HttpResponse:
    """A page of the project's own that embeds the login widget."""
    template = Template(
        "{% load kodmobi %}<h1>Welcome</h1>"
        '{% include "django_kodmobi/_messages.html" %}{% kodmobi_login %}'
    )
    from django.template import RequestContext

    return HttpResponse(template.render(RequestContext(request)))


def contacts_widget_page(request: HttpRequest) -> HttpResponse:
    """A page of the project's own with the contacts widget."""
    from django.template import RequestContext

    template = Template("{% load kodmobi %}<h1>Settings</h1>{% kodmobi_contacts %}")
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


@kodmobi_step_up_required
def sensitive_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("the sensitive page")


@kodmobi_step_up_required(trusted_browser=False)
def strict_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("the strict page")


@kodmobi_step_up_required(max_age=60)
def very_sensitive_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("the very sensitive page")


class SensitiveView(StepUpRequiredMixin, View):
    step_up_max_age = 30

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("the sensitive view")


@extend_schema(exclude=True)  # the suite's own view, not the app's API
class SensitiveAPI(APIView):
    permission_classes = [StepUpRequired]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("", home, name="home"),
    path("widget/", widget_page, name="widget"),
    path("contacts-widget/", contacts_widget_page),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("sensitive/", sensitive_page),
    path("very-sensitive/", very_sensitive_page),
    path("sensitive-strict/", strict_page),
    path("sensitive-view/", SensitiveView.as_view()),
    path("sensitive-api/", SensitiveAPI.as_view()),
    path("admin/", admin.site.urls),
    path("accounts/", include("django_kodmobi.urls")),
    path("api/auth/", include("django_kodmobi.api.urls")),
]
