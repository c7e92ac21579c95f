"""The OpenAPI description of the API's shared parts.

Only documentation lives here: the error replies derived from the one table
of failures, and the flow header. It is evaluated once, at import.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from django_kodmobi.exceptions import OUTCOMES

from . import serializers as s

__all__ = ["ERRORS", "FLOW_HEADER", "flow_parameter"]

#: The header that carries the flow reference from start.
FLOW_HEADER = "X-Kodmobi-Flow"


def _errors_by_status() -> dict[int, OpenApiResponse]:
    """The schema's error replies, from the one table of failures."""
    codes: dict[int, list[str]] = {
        400: ["invalid"],
        403: ["csrf_failed"],
        413: ["request_too_large"],
        415: ["unsupported_media_type"],
    }
    for reason, outcome in OUTCOMES.items():
        codes.setdefault(int(outcome.status), []).append(reason.value)
    return {
        status: OpenApiResponse(s.ErrorReply, description=", ".join(names))
        for status, names in sorted(codes.items())
    }


ERRORS = _errors_by_status()


def flow_parameter(*, required: bool, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        FLOW_HEADER,
        location=OpenApiParameter.HEADER,
        required=required,
        description=description,
    )
