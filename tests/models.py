"""Custom user models the suite logs in with."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models


class PhoneUserManager(BaseUserManager["PhoneUser"]):
    def create_user(
        self, phone: str, password: str | None = None, **extra: Any
    ) -> PhoneUser:
        user = self.model(phone=phone, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(
        self, phone: str, password: str | None = None, **extra: Any
    ) -> PhoneUser:
        return self.create_user(
            phone, password, is_staff=True, is_superuser=True, **extra
        )


class PhoneUser(AbstractBaseUser):
    """A user identified by phone number, with an optional email."""

    phone = models.CharField(max_length=16, unique=True)
    email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    is_superuser = models.BooleanField(default=False)

    USERNAME_FIELD = "phone"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []  # noqa: RUF012

    objects = PhoneUserManager()

    def __str__(self) -> str:
        return self.phone
