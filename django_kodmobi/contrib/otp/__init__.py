"""django-otp: a device that sends its codes through kod.mobi.

:class:`~django_kodmobi.contrib.otp.models.KodmobiDevice` is bound to one of
the user's verified contacts. Its challenge is a kod.mobi code (session
mode: kod.mobi makes it, delivers it on the person's messenger or by SMS or
email, and checks it); the answer is checked at kod.mobi and redeemed with
the secret key, under the same attempt caps and failure streaks as a login,
and django-otp's exponential throttle on top. Wiring::

    INSTALLED_APPS += ["django_otp", "django_kodmobi.contrib.otp"]
    MIDDLEWARE += ["django_otp.middleware.OTPMiddleware"]  # after AuthenticationMiddleware

Install with ``pip install "django-kodmobi[otp]"``.
"""
