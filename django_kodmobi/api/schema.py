"""The OpenAPI description of the API's shared parts.

Only documentation lives here: each operation's error replies (derived from
the one table of failures) and the flow header. It is evaluated once, at
import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

from django_kodmobi.exceptions import OUTCOMES, Failure

__all__ = ["FLOW_HEADER", "UPSTREAM", "add_csrf_header", "errors_for", "flow_parameter"]

#: The header that carries the flow reference from start.
FLOW_HEADER = "X-Kodmobi-Flow"


#: What any call to kod.mobi can come back as (services.upstream.OUTCOMES).
UPSTREAM = frozenset(
    {
        Failure.RESEND_TOO_SOON,
        Failure.CHANNEL_UNAVAILABLE,
        Failure.CHALLENGE_FAILED,
        Failure.INVALID_IDENTIFIER,
        Failure.TOO_MANY_FAILURES,
        Failure.LOCKED,
        Failure.EXPIRED,
        Failure.UNAVAILABLE,
        Failure.SENDING_UNAVAILABLE,
        # This site's own cache, which counts the limits, is down.
        Failure.UNAVAILABLE_HERE,
    }
)
#: What checking a code can be refused for, beyond the caller's own rules.
CODE_CHECK = UPSTREAM | {
    Failure.INVALID_CODE,
    Failure.NOT_FOUND,
    Failure.ALREADY_USED,
    Failure.DESTINATION_MISMATCH,
    Failure.RATE_LIMITED,
}
#: What a JSON request body itself can be refused for, by status.
_BODY_ERRORS = {
    400: ["invalid"],
    403: ["csrf_failed"],
    413: ["request_too_large"],
    415: ["unsupported_media_type"],
}


#: What a view for signed-in people answers a caller who is not (DRF's
#: codes): 401 for a bad or missing token where a token scheme comes first,
#: 403 without credentials where the session does.
_SIGNED_IN_ERRORS = {
    401: ["authentication_failed", "not_authenticated"],
    403: ["not_authenticated"],
}


def errors_for(
    operation: str,
    failures: Iterable[Failure] = (),
    *,
    body: bool = True,
    signed_in: bool = False,
    step_up: bool = False,
    also: Mapping[int, Iterable[str]] | None = None,
) -> dict[int, OpenApiResponse]:
    """The error replies of one operation: per status, the codes it can
    answer with as an enum (``operation`` names the schema components).

    ``body``: it reads a JSON body; ``signed_in``: it is for signed-in
    people only; ``step_up``: it needs a recent step-up; ``also``: further
    codes by status.
    """
    codes: dict[int, list[str]] = {}
    extra = [
        _BODY_ERRORS if body else {},
        _SIGNED_IN_ERRORS if signed_in else {},
        {403: ["step_up_required"]} if step_up else {},
        also or {},
    ]
    for table in extra:
        for status, names in table.items():
            known = codes.setdefault(status, [])
            known += [name for name in names if name not in known]
    for reason in sorted(failures):
        codes.setdefault(int(OUTCOMES[reason].status), []).append(reason.value)
    return {
        status: OpenApiResponse(
            _error_reply(f"{operation}Error{status}", names),
            description=", ".join(names),
        )
        for status, names in sorted(codes.items())
    }


#: One component per distinct set of codes, shared by the operations that
#: answer with the same set (so each enum is named once, without collisions).
_REPLIES: dict[tuple[str, ...], Any] = {}


def _error_reply(name: str, codes: list[str]) -> Any:
    key = tuple(codes)
    if key not in _REPLIES:
        _REPLIES[key] = _new_error_reply(name, codes)
    return _REPLIES[key]


def _new_error_reply(name: str, codes: list[str]) -> Any:
    return inline_serializer(
        name,
        fields={
            "code": serializers.ChoiceField(choices=codes),
            "detail": serializers.CharField(),
            "retry_after": serializers.IntegerField(required=False),
            "attempts_left": serializers.IntegerField(required=False),
            "field_errors": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()),
                required=False,
            ),
        },
    )


def flow_parameter(*, required: bool, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        FLOW_HEADER,
        location=OpenApiParameter.HEADER,
        required=required,
        description=description,
    )


def add_csrf_header(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook: every request of this API that
    changes something documents the CSRF header a browser-mode client sends
    (login CSRF)."""
    header = {
        "in": "header",
        "name": "X-CSRFToken",
        "required": False,
        "schema": {"type": "string"},
        "description": (
            "With API_LOGIN 'session' (browser mode): the value of the "
            "csrftoken cookie that config/ sets. Not needed with tokens."
        ),
    }
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method in ("post", "put", "patch", "delete"):
                operation.setdefault("parameters", []).append(header)
    return result
