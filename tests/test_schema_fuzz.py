"""schemathesis against the served OpenAPI schema.

Every operation gets 500 generated requests. Identifiers are drawn mostly
from valid phone numbers and emails, and flows and codes are often real
ones (in the positive cases; the negative ones break the schema on purpose), so generation reaches the deep paths (codes checked, logins made)
rather than stopping at validation. No request may get a server error, and
every reply must match the schema: its status, headers and body.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from django_kodmobi import provider
from django_kodmobi.services import start_login

schema = schemathesis.openapi.from_wsgi("/api/auth/schema/", get_wsgi_application())

PHONES = st.builds(
    lambda prefix, rest: f"{prefix}{rest}",
    st.sampled_from(["+7999", "+7912", "+4474", "+1201555"]),
    st.integers(min_value=10**6, max_value=10**7 - 1).map(str),
)
EMAILS = st.emails().filter(lambda e: len(e) <= 254)
IDENTIFIERS = st.one_of(
    PHONES, EMAILS, st.text(min_size=1, max_size=40).filter(lambda t: "\x00" not in t)
)


@pytest.fixture
def api_settings(db: Any) -> Any:
    # The WSGI app closes the database connection after each request, as in
    # production; inside a test transaction that must not happen (Django's
    # own test client disconnects the same handler).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    # Token mode: no CSRF cookie dance, so requests reach the flow itself.
    with override_settings(
        KODMOBI={
            **settings.KODMOBI,
            "API_LOGIN": "token",
            "SIGNUP": True,
            "BROWSER_SDK": True,
        }
    ):
        provider.reset()
        yield
    provider.reset()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@schema.given(data=st.data())
@hypothesis_settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_the_api_matches_its_schema(case: Any, data: Any, api_settings: Any) -> None:
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    body = case.body if positive and isinstance(case.body, dict) else None
    if body is not None and "identifier" in body:
        body["identifier"] = data.draw(IDENTIFIERS, label="identifier")
    if (
        body is not None
        and "flow" in body
        and data.draw(st.booleans(), label="real flow")
    ):
        identifier = data.draw(st.sampled_from(["anna@example.com", "+79991234567"]))
        flow = start_login(identifier, send=data.draw(st.booleans(), label="sent"))
        body["flow"] = f"{flow.session.pk}.{flow.token}"
        if "code" in body and data.draw(st.booleans(), label="right code"):
            code = provider.get_sandbox().project.code_for(identifier)
            body["code"] = code or body["code"]
    case.call_and_validate(
        excluded_checks=[positive_data_acceptance],
        additional_checks=[schema_valid_input_passes_validation],
    )


def schema_valid_input_passes_validation(ctx: Any, response: Any, case: Any) -> None:
    """A request the schema allows is never refused as invalid input.

    (schemathesis's own positive-data check takes every 400 for that, but
    ``expired`` or ``invalid_code`` is the flow's answer, not a complaint
    about the request's shape.)
    """
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if (
        positive
        and response.status_code == 400
        and response.json().get("code") == "invalid"
    ):
        raise AssertionError(f"schema-valid input refused: {response.text}")


@pytest.mark.django_db
def test_the_schema_needs_no_default_schema_class(client: Any) -> None:
    """A new project leaves DRF's DEFAULT_SCHEMA_CLASS as it is: the app's
    own views carry drf-spectacular's schema class."""
    from django.conf import settings
    from django.test import override_settings
    from django.urls import reverse

    rest_framework = {
        key: value
        for key, value in settings.REST_FRAMEWORK.items()
        if key != "DEFAULT_SCHEMA_CLASS"
    }
    with override_settings(REST_FRAMEWORK=rest_framework):
        reply = client.get(reverse("kodmobi_api:schema"))
    assert reply.status_code == 200
    assert b"/api/auth/start/" in reply.content


@pytest.mark.django_db
def test_the_schema_names_itself_and_each_operation_once(client: Any) -> None:
    import collections

    from django.urls import reverse

    from django_kodmobi import __version__

    reply = client.get(reverse("kodmobi_api:schema"), {"format": "json"})
    doc = reply.json()
    assert (doc["info"]["title"], doc["info"]["version"]) == (
        "django-kodmobi",
        __version__,
    )
    operations = [
        operation
        for item in doc["paths"].values()
        for method, operation in item.items()
        if method in ("get", "post", "delete", "put", "patch")
    ]
    ids = collections.Counter(op["operationId"] for op in operations)
    assert [name for name, count in ids.items() if count > 1] == []
    assert all(not name[-1].isdigit() for name in ids), "no numbered collisions"
    start = doc["paths"]["/api/auth/start/"]["post"]
    assert "X-CSRFToken" in {p["name"] for p in start["parameters"]}
    config = doc["paths"]["/api/auth/config/"]["get"]
    assert "X-CSRFToken" not in {p["name"] for p in config.get("parameters", [])}
