"""kod.mobi's delivery callbacks for the manual flow.

kod.mobi documents no signature for its callbacks, so each delivery gets
its own URL holding a random token (256 bits; the row keeps its SHA-256).
The body is not trusted either: a callback only says "look again", and the
status is read back from kod.mobi with the secret key. A wrong token is a
404 and changes nothing; a second callback for a finished delivery is a
no-op.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

from .exceptions import VerificationError
from .models import ManualDelivery
from .pages.bases import OpenToAll
from .services.flows import hash_token
from .services.manual import refresh_delivery

__all__ = ["ManualCallbackView"]


@method_decorator(csrf_exempt, name="dispatch")
class ManualCallbackView(OpenToAll):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, delivery_id: str, token: str) -> JsonResponse:
        delivery = ManualDelivery.objects.filter(pk=delivery_id[:26]).first()
        # A delivery without callbacks has no hash: nothing compares equal.
        expected = delivery.callback_token_hash if delivery else ""
        if not constant_time_compare(hash_token(token), expected) or delivery is None:
            raise Http404
        try:
            refresh_delivery(delivery)
        except VerificationError:
            # kod.mobi did not answer: ask it to call again later.
            return JsonResponse({"status": delivery.status}, status=503)
        return JsonResponse({"status": delivery.status})
