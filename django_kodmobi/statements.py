"""The login's hottest writes, written by hand.

The code check's reservation (below), and the writes that share a commit
(:func:`write_together`): the flow's row, its events and the kod.mobi
session's budget once kod.mobi has answered a start.

Every code check first counts one attempt on its flow and on the budget of
the code it is for (:meth:`OTPSessionQuerySet.reserve_attempt`). The ORM
built that pair of UPDATEs (an ``F()``, a ``Case`` and three ``Q``) anew on
every check, in more time than the database took to run them; here the SQL
is written once per database and reused. On PostgreSQL the pair is one
statement, one round trip and one commit: the flow's UPDATE reads the
code's from a data-modifying CTE.

``tests/test_statements.py`` pins the text; the reservation's rules are
tested through ``reserve_attempt`` (``tests/test_transitions.py``, and the
races on PostgreSQL).
"""

# Names come from the models' _meta, quoted; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.db import connections, models, transaction

from .models import (
    OPEN_STATUSES,
    Contact,
    KodSession,
    OTPEvent,
    OTPSession,
    Status,
)

__all__ = [
    "consume",
    "consume_sql",
    "contact_holds",
    "insert",
    "insert_flow",
    "reservation_sql",
    "reserve_attempt",
    "update",
    "write_together",
]

Quote = Callable[[str], str]
if TYPE_CHECKING:
    Field = models.Field[Any, Any]


def _code_update(quote: Quote, joined_cap: bool) -> str:
    """Count the check on the code's budget, while the flow is open."""
    code = quote(KodSession._meta.db_table)
    flow = quote(OTPSession._meta.db_table)
    joined, cap = "", ""
    if joined_cap:  # a flow that joined somebody's code counts apart
        joined = (
            ", joined_attempts = joined_attempts"
            " + CASE WHEN origin = %(flow)s THEN 0 ELSE 1 END"
        )
        cap = " AND (origin = %(flow)s OR joined_attempts < %(joined_max)s)"
    return (
        f"UPDATE {code} SET attempts = attempts + 1, checked_at = %(now)s{joined}"
        f" WHERE id = %(code)s AND attempts < %(max)s{cap}"
        f" AND EXISTS (SELECT 1 FROM {flow} WHERE id = %(flow)s"
        " AND status IN (%(created)s, %(sent)s) AND expires_at > %(now)s)"
    )


def _flow_update(quote: Quote) -> str:
    """Count the check on the flow."""
    flow = quote(OTPSession._meta.db_table)
    return (
        f"UPDATE {flow} SET attempts = attempts + 1, updated_at = %(now)s"
        " WHERE id = %(flow)s"
    )


#: Statements built, by what they were built for.
_built: dict[tuple[Any, ...], tuple[str, ...]] = {}


def reservation_sql(connection: Any, joined_cap: bool) -> tuple[str, ...]:
    """The statements of one reservation on ``connection``'s database, in
    order; each after the first runs only when the one before it counted.
    ``joined_cap``: the flow's client is not a trusted device, so a flow
    that joined somebody's code is held to its share of the checks."""
    key = ("reserve", connection.vendor, joined_cap)
    if key not in _built:
        quote = connection.ops.quote_name
        code, flow = _code_update(quote, joined_cap), _flow_update(quote)
        if connection.vendor == "postgresql":
            # One statement: the flow's UPDATE runs on the code's result.
            _built[key] = (
                f"WITH code AS ({code} RETURNING 1) "
                f"{flow} AND EXISTS (SELECT 1 FROM code)",
            )
        else:
            _built[key] = (code, flow)
    return _built[key]


def reserve_attempt(
    using: str,
    session: OTPSession,
    *,
    now: datetime,
    maximum: int,
    joined_maximum: int,
) -> bool:
    """Count one check on ``session`` and on its code's budget, both or
    neither: see :meth:`OTPSessionQuerySet.reserve_attempt`."""
    connection = connections[using]
    params = {
        "now": connection.ops.adapt_datetimefield_value(now),
        "flow": session.pk,
        "code": session.kodmobi_session_id,
        "max": maximum,
        "joined_max": joined_maximum,
        "created": OPEN_STATUSES[0].value,
        "sent": OPEN_STATUSES[1].value,
    }
    statements = reservation_sql(connection, not session.device_key)
    # One statement is its own transaction; two share one.
    in_one = transaction.atomic(using) if len(statements) > 1 else nullcontext()
    with in_one, connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)
            if cursor.rowcount != 1:
                return False
    return True


def consume_sql(connection: Any, *, user: bool, verifying: bool, contact: bool) -> str:
    """The UPDATE of :meth:`OTPSessionQuerySet.consume`: the flow consumed,
    once, while verified (or, ``verifying``, open: its verification written
    by the same UPDATE) and unexpired; with ``user``, recorded; with
    ``contact``, only while that verified contact still names them."""
    key = ("consume", connection.vendor, user, verifying, contact)
    if key in _built:
        return _built[key][0]
    quote = connection.ops.quote_name
    flow = quote(OTPSession._meta.db_table)
    sets = "status = %(consumed)s, consumed_at = %(now)s, updated_at = %(now)s"
    if user:
        sets += ", user_id = %(user)s"
    if verifying:
        sets += ", verified_at = %(verified_at)s, last_error = ''"
    from_status = "IN (%(created)s, %(sent)s)" if verifying else "= %(verified)s"
    sql = (
        f"UPDATE {flow} SET {sets} WHERE id = %(flow)s AND status {from_status}"
        " AND consumed_at IS NULL AND expires_at > %(now)s"
    )
    if contact:
        sql += f" AND {_contact_holds(quote)}"
    _built[key] = (sql,)
    return sql


def _contact_holds(quote: Quote) -> str:
    """The contact ``%(contact)s`` is verified and names ``%(contact_user)s``."""
    return (
        f"EXISTS (SELECT 1 FROM {quote(Contact._meta.db_table)}"
        " WHERE id = %(contact)s AND user_id = %(contact_user)s"
        " AND verified_at IS NOT NULL)"
    )


def contact_holds(using: str, contact: Contact) -> bool:
    """Whether ``contact`` is still verified and its user's: the condition
    :func:`consume` puts on a login by it, asked on its own (to tell why a
    consume found nothing to do)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_contact_holds(connection.ops.quote_name)}",
            {"contact": contact.pk, "contact_user": contact.user_id},
        )
        return bool(cursor.fetchone()[0])


def consume(
    using: str,
    session: OTPSession,
    *,
    now: datetime,
    user: Any,
    verifying: bool,
    contact: Contact | None,
    events: Sequence[OTPEvent] = (),
) -> bool:
    """Run :func:`consume_sql`, and write ``events`` if this caller consumed
    the flow (on PostgreSQL in the same statement); whether it did."""
    connection = connections[using]
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "now": adapt(now),
        "flow": session.pk,
        "consumed": Status.CONSUMED.value,
        "created": OPEN_STATUSES[0].value,
        "sent": OPEN_STATUSES[1].value,
        "verified": Status.VERIFIED.value,
        "user": getattr(user, "pk", None),
        "verified_at": adapt(session.verified_at),
        "contact": getattr(contact, "pk", None),
        "contact_user": getattr(contact, "user_id", None),
    }
    sql = consume_sql(
        connection,
        user=user is not None,
        verifying=verifying,
        contact=contact is not None,
    )
    with connection.cursor() as cursor:
        if events and connection.vendor == "postgresql":
            # One statement: the events go in only if the flow was consumed.
            rows, values = _rows_of(connection, events, EVENT_FIELDS)
            cursor.execute(
                f"WITH flow AS ({sql} RETURNING 1) INSERT INTO"
                f" {connection.ops.quote_name(OTPEvent._meta.db_table)}"
                f" ({_columns(connection, OTPEvent, EVENT_FIELDS)})"
                f" SELECT * FROM (VALUES {rows}) AS event"
                " WHERE EXISTS (SELECT 1 FROM flow)",
                params | values,
            )
            return bool(cursor.rowcount == len(events))
        cursor.execute(sql, params)
        consumed = bool(cursor.rowcount == 1)
        if consumed and events:
            cursor.execute(*insert(using, events, EVENT_FIELDS))
        return consumed


#: The columns of an event written by hand (all but its id).
EVENT_FIELDS = ("session", "kind", "at", "channel", "detail")


def _fields(model: type[models.Model], names: Sequence[str]) -> list[Field]:
    key = (model, tuple(names))
    fields = _fields_of.get(key)
    if fields is None:
        fields = _fields_of[key] = [
            cast("Field", model._meta.get_field(name)) for name in names
        ]
    return fields


def _columns(connection: Any, model: type[models.Model], names: Sequence[str]) -> str:
    key = (connection.vendor, model, tuple(names))
    columns = _columns_of.get(key)
    if columns is None:
        quote = connection.ops.quote_name
        columns = _columns_of[key] = ", ".join(
            quote(field.column) for field in _fields(model, names)
        )
    return columns


#: The fields and the quoted column lists the writes name, looked up once.
_fields_of: dict[tuple[type[models.Model], tuple[str, ...]], list[Field]] = {}
_columns_of: dict[tuple[str, type[models.Model], tuple[str, ...]], str] = {}


def _values(connection: Any, obj: models.Model, fields: Sequence[Field]) -> list[Any]:
    """``obj``'s values for ``fields``, prepared as ``bulk_create`` prepares
    them (``auto_now_add`` filled, then adapted to the database)."""
    return [
        field.get_db_prep_save(field.pre_save(obj, True), connection)
        for field in fields
    ]


def _rows_of(
    connection: Any, objs: Sequence[models.Model], names: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    """``objs`` as the rows of a VALUES list with named parameters."""
    fields = _fields(type(objs[0]), names)
    rows, params = [], {}
    for number, obj in enumerate(objs):
        row = []
        for field, value in zip(fields, _values(connection, obj, fields), strict=True):
            name = f"row{number}_{field.attname}"
            params[name] = value
            row.append(f"%({name})s")
        rows.append(f"({', '.join(row)})")
    return ", ".join(rows), params


# -- writes that go together ---------------------------------------------------

Statement = tuple[str, list[Any]]


def insert(
    using: str,
    objs: Sequence[models.Model],
    names: Sequence[str],
    *,
    ignore_conflicts: bool = False,
    computed: dict[str, Statement] | None = None,
    unless: Statement | None = None,
) -> Statement:
    """``INSERT`` of ``objs`` (one model), the columns of fields ``names``,
    their values prepared as the ORM's own ``bulk_create`` prepares them.
    One row only: the fields ``computed`` names, each value an SQL
    expression with its parameters; ``unless`` an SQL condition that, when
    true, makes it insert nothing."""
    connection = connections[using]
    model = type(objs[0])
    computed = computed or {}
    assert len(objs) == 1 or not (computed or unless), "that fills one row"
    quote = connection.ops.quote_name
    placeholders = ", ".join(["%s"] * len(names) + [e for e, _ in computed.values()])
    rows = f"VALUES {', '.join([f'({placeholders})'] * len(objs))}"
    if unless is not None:
        rows = f"SELECT {placeholders} WHERE NOT ({unless[0]})"
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)}"
        f" ({_columns(connection, model, [*names, *computed])}) {rows}"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    fields = _fields(model, names)
    params = [value for obj in objs for value in _values(connection, obj, fields)]
    params += [param for _, extra in computed.values() for param in extra]
    return sql, params + (unless[1] if unless is not None else [])


def insert_flow(
    using: str,
    session: OTPSession,
    *,
    unless_held_by: str = "",
    unless: Statement | None = None,
) -> bool:
    """INSERT ``session``'s row, unless the condition ``unless`` holds;
    whether it did. With ``unless_held_by`` (a phone or email), the same
    statement sets ``silent`` to whether no verified contact holds that
    value, and ``session`` learns the answer."""
    connection = connections[using]
    quote = connection.ops.quote_name
    names = [field.name for field in OTPSession._meta.concrete_fields]
    computed: dict[str, Statement] = {}
    if unless_held_by:
        names.remove("silent")
        computed["silent"] = (
            f"NOT EXISTS (SELECT 1 FROM {quote(Contact._meta.db_table)}"
            " WHERE value = %s AND verified_at IS NOT NULL)",
            [unless_held_by],
        )
    sql, params = insert(using, [session], names, computed=computed, unless=unless)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {quote('silent')}", params)
        inserted = cursor.fetchone()
    if inserted is None:
        return False
    session.silent = bool(inserted[0])
    session._state.adding, session._state.db = False, using
    return True


def update(
    using: str, model: type[models.Model], pk: Any, values: dict[str, Any]
) -> Statement:
    """``UPDATE`` of the row ``pk`` of ``model``: fields to ``values``."""
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = _fields(model, list(values))
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values.values(), strict=True)
    ]
    pk_column = quote(model._meta.pk.column)
    table = quote(model._meta.db_table)
    return f"UPDATE {table} SET {assignments} WHERE {pk_column} = %s", [*params, pk]


def write_together(using: str, statements: Sequence[Statement]) -> None:
    """Run ``statements`` as one commit: on PostgreSQL as one statement (all
    but the last in data-modifying CTEs), one round trip; elsewhere in a
    transaction. None may depend on another's effect: the parts of a
    PostgreSQL CTE all see the database as it was before the statement."""
    connection = connections[using]
    if connection.vendor == "postgresql" and len(statements) > 1:
        *first, (last_sql, last_params) = statements
        ctes = ", ".join(f"w{n} AS ({sql})" for n, (sql, _) in enumerate(first))
        params = [param for _, part in first for param in part]
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {ctes} {last_sql}", [*params, *last_params])
        return
    with transaction.atomic(using), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
