"""The sandbox's error texts in the two languages kod.mobi speaks."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["error_text", "language_from_header"]

_TEXTS: Mapping[str, tuple[str, str]] = {
    "ERROR_BAD_REQUEST": ("Invalid request.", "Некорректный запрос."),
    "ERROR_NOT_FOUND": ("Unknown endpoint.", "Неизвестный метод."),
    "ERROR_ACCESS_DENIED": ("Your API key is wrong.", "Неверный API-ключ."),
    "ERROR_PROJECT_HAS_NO_CHANNEL": (
        "This channel is not enabled for the project.",
        "Этот канал не подключён к проекту.",
    ),
    "ERROR_USER_NOT_AUTHORIZE_ON_CHANNEL": (
        "The user is not connected to this channel.",
        "Пользователь не подключён к этому каналу.",
    ),
    "ERROR_CHANNEL_NOT_ALLOWED_COUNTRY": (
        "This channel is not available for the number's country.",
        "Этот канал недоступен для страны номера.",
    ),
    "ERROR_SESSION_EXPIRED": (
        "The session has expired.",
        "Сессия истекла.",
    ),
    "ERROR_MESSAGE_WRONG_CODE": ("Wrong code.", "Неверный код."),
    "ERROR_MESSAGE_ATTEMPT": (
        "Too early to send again. Take your time.",
        "Слишком рано для повторной отправки. Подождите.",
    ),
    "ERROR_BLOCKED": (
        "Too many wrong codes. The session is blocked.",
        "Слишком много неверных кодов. Сессия заблокирована.",
    ),
    "ERROR_CHALLENGE": (
        "The challenge was not passed.",
        "Проверка на робота не пройдена.",
    ),
    "ERROR_MESSAGE_NOT_FOUND": ("Message not found.", "Сообщение не найдено."),
    "ERROR_PROJECT_HAS_NO_CHANNELS": (
        "The project has no channels to send through.",
        "У проекта нет каналов для отправки.",
    ),
    "ERROR_PHONE_BLOCKED": (
        "Too many wrong codes for this destination. It is blocked for a while.",
        "Слишком много неверных кодов для этого адресата. Он временно заблокирован.",
    ),
    "ERROR_WRONG_BALANCE": (
        "The project's balance is too low to send.",
        "На балансе проекта недостаточно средств для отправки.",
    ),
    "ERROR_INTERNAL": ("Internal server error.", "Внутренняя ошибка сервера."),
}


def language_from_header(value: str | None) -> str:
    """Return ``ru`` when the first language in ``Accept-Language`` is Russian."""
    first = (value or "").split(",")[0].split(";")[0].strip().lower()
    return "ru" if first.split("-")[0] == "ru" else "en"


def error_text(sys_message: str, language: str) -> str:
    en, ru = _TEXTS.get(sys_message, _TEXTS["ERROR_INTERNAL"])
    return ru if language == "ru" else en
