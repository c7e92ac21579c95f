"""A queryset's SELECT of one row by its key, compiled once.

Every code check starts with the same SELECT: the flow, whether its
identifier has failure streaks, and the account of its verified contact,
joined. The ORM rebuilds that query for every call, resolving the joins and
the subquery anew, in ten times the time the database takes to answer it
(``benchmarks/bench_orm.py``). :class:`CompiledLookup` asks the ORM once for
the SQL and for how a row becomes model instances (the converters, the
related objects ``select_related`` fills, the annotations) and reuses them:
the SQL stays the ORM's own, so it follows the models and every backend,
and only the key changes from call to call.

It uses the pieces of Django's own ``ModelIterable`` (the compiler's
``select``, ``klass_info`` and converters, ``get_related_populators``),
stable since Django 2.0; ``tests/test_compiled.py`` checks that a lookup
returns what the queryset returns, joins and annotations included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connections, models
from django.db.models.query import (  # type: ignore[attr-defined]
    get_related_populators,
)

__all__ = ["CompiledLookup"]

M = TypeVar("M", bound=models.Model)

#: Stands for the key in the compiled SQL's parameters, to find its place.
_KEY = "\x00compiled-lookup-key\x00"


class _Compiled:
    """The SQL, parameters and row mapping of one queryset on one connection."""

    def __init__(self, queryset: models.QuerySet[Any], field: str) -> None:
        compiler = queryset.filter(**{field: _KEY}).query.get_compiler(queryset.db)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        self.slot = self.params.index(_KEY)
        self.compiler = compiler
        select, klass_info = compiler.select, compiler.klass_info
        assert klass_info is not None, "a lookup returns model instances"
        self.converters = compiler.get_converters([column[0] for column in select])
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [
            column[0].target.attname for column in select[self.start : self.end]
        ]
        self.populators = get_related_populators(klass_info, select, queryset.db)
        self.annotations = dict(compiler.annotation_col_map or {})
        self.model = klass_info["model"]

    def row(self, key: Any) -> Sequence[Any] | None:
        params = list(self.params)
        params[self.slot] = key
        with self.compiler.connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row: Sequence[Any] | None = cursor.fetchone()
        if row is None or not self.converters:
            return row
        converted: list[Any] = next(
            iter(self.compiler.apply_converters([row], self.converters))
        )
        return converted

    def instance(self, row: Sequence[Any], using: str) -> Any:
        obj = self.model.from_db(using, self.init_list, row[self.start : self.end])
        for populator in self.populators:
            populator.populate(row, obj)
        for name, position in self.annotations.items():
            setattr(obj, name, row[position])
        return obj


class CompiledLookup(Generic[M]):
    """The one row of ``queryset.filter(<field>=key)``, the SELECT compiled
    once per database connection and run with only the key changed.

    What is compiled lives on the connection object (the compiler and its
    converters belong to it), so it goes when the connection does: a server
    that starts a thread, and so a connection, per request keeps nothing of
    the threads that have ended.

    ``queryset`` is built by a function, so that it is built on first use,
    inside a configured Django. The field must be unique: the SELECT has no
    ``LIMIT``.
    """

    def __init__(self, queryset: Callable[[], models.QuerySet[M]], field: str = "pk"):
        self._build = queryset
        self._queryset: models.QuerySet[M] | None = None
        self._field = field

    def get(self, key: Any, using: str | None = None) -> M | None:
        """The row whose field is ``key``, as the queryset would return it."""
        if self._queryset is None:
            self._queryset = self._build()
        using = using or self._queryset.db
        connection = connections[using]
        compiled_here = connection.__dict__.setdefault(_ON_CONNECTION, {})
        compiled = compiled_here.get(self)
        if compiled is None:
            compiled = _Compiled(self._queryset.using(using), self._field)
            compiled_here[self] = compiled
        row = compiled.row(key)
        return None if row is None else compiled.instance(row, using)


#: The attribute of a connection that holds the lookups compiled for it.
_ON_CONNECTION = "_kodmobi_compiled_lookups"
