"""An allauth adapter that keeps the last login code it made, so that the
benchmark can type it (as it reads kod.mobi's from the sandbox); served
(``bench_served``), every code is ``BENCH_FIXED_CODE``, as the sandbox's."""

from __future__ import annotations

import os

from allauth.account.adapter import DefaultAccountAdapter


class CodeKeepingAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    last_code = ""

    def generate_login_code(self) -> str:
        code: str = os.environ.get("BENCH_FIXED_CODE") or super().generate_login_code()
        CodeKeepingAdapter.last_code = code
        return code
