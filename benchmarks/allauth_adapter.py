"""An allauth adapter that keeps the last login code it made, so that the
benchmark can type it (as it reads kod.mobi's from the sandbox)."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class CodeKeepingAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    last_code = ""

    def generate_login_code(self) -> str:
        code: str = super().generate_login_code()
        CodeKeepingAdapter.last_code = code
        return code
