"""The REST API (Django REST framework): one ``include`` for a SPA or app."""
