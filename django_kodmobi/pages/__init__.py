"""The server-rendered pages, one module per feature, as ``api/`` has one
per resource: ``login``, ``contacts``, ``step_up``, ``passkeys``; ``bases``
holds what every page view is (its own commits, open to all).
"""
