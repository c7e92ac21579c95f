"""Integrations with other auth libraries; each is optional and imported only
by projects that use it."""
