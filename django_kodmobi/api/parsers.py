"""A JSON parser that answers 400, not 500, to whatever a client sends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

__all__ = ["BoundedJSONParser"]


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, with deep nesting refused as a bad request.

    ``[[[[...]]]]`` a hundred thousand levels deep makes :func:`json.load`
    raise :class:`RecursionError`, which DRF does not catch.
    """

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
