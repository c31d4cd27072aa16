"""Macros in query text: ``$__timeFilter(time)``, ``$__interval`` and friends.

SQL datasources in Plutono expand the same small set of macros before they run a query; this
module does it for a plugin's own query text, with the time range and the
:func:`~plutono_plugin.timeutil.effective_interval` of the query (so alert queries, which carry
no interval, expand too).

==============================  ===============================================================
macro                           expands to (defaults; time columns hold epoch seconds)
==============================  ===============================================================
``$__timeFilter(col)``          ``col BETWEEN <from> AND <to>``
``$__timeFrom()``               ``<from>`` (parentheses optional)
``$__timeTo()``                 ``<to>``
``$__interval``                 the interval as text, e.g. ``30s``, ``5m``
``$__interval_ms``              the interval in milliseconds, e.g. ``30000``
``$__timeGroup(col, 5m)``       ``col`` rounded down to the interval (``$__interval`` allowed)
==============================  ===============================================================

``<from>``/``<to>`` are written by ``time_literal`` (default: epoch seconds, e.g. ``1600000000``;
:func:`iso_literal` writes quoted ISO-8601 for databases with timestamp columns). ``$__timeGroup``
uses ``time_group`` (default: integer arithmetic on epoch seconds, ``(col - col % 300)``).
Other macros can be added or replaced with ``macros={"name": function}``.

An unknown macro, a wrong number of arguments, an unclosed parenthesis or a bad (or too long)
interval is a :class:`~plutono_plugin.errors.QueryError` naming the macro and the query's
refId; so is any exception a custom macro raises.

Example::

    from plutono_plugin.macros import expand_macros

    sql = expand_macros(
        "SELECT $__timeGroup(time, $__interval) AS t, avg(cpu) FROM m "
        "WHERE $__timeFilter(time) GROUP BY 1",
        query,
    )
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeAlias

from .errors import QueryError
from .timeutil import effective_interval, format_duration, parse_duration

if TYPE_CHECKING:
    from .query import Query

__all__ = ("MacroContext", "MacroFunction", "epoch_literal", "expand_macros", "iso_literal")


def epoch_literal(moment: datetime) -> str:
    """``moment`` as epoch seconds: ``1600000000``, or ``1600000000.5`` with milliseconds."""
    milliseconds = int(moment.timestamp() * 1000)
    seconds, rest = divmod(milliseconds, 1000)
    return str(seconds) if rest == 0 else f"{seconds}.{rest:03d}".rstrip("0")


def iso_literal(moment: datetime) -> str:
    """``moment`` as a quoted ISO-8601 UTC literal: ``'2020-09-13T12:26:40Z'``."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return f"'{text}Z'"


def _integer_time_group(column: str, interval: timedelta) -> str:
    seconds = max(int(interval.total_seconds()), 1)
    return f"({column} - {column} % {seconds})"


@dataclass(frozen=True)
class MacroContext:
    """What a macro function may use: the query, its interval and how to write times."""

    query: Query
    """The query whose text is expanded (its time range, refId, ...)."""
    interval: timedelta
    """The interval ``$__interval`` stands for, always positive."""
    time_literal: Callable[[datetime], str]
    """Writes a point in time as SQL text (:func:`epoch_literal` or :func:`iso_literal`)."""
    time_group: Callable[[str, timedelta], str]
    """Writes ``$__timeGroup``: ``(column, interval) -> text`` rounding the column down."""


MacroFunction: TypeAlias = Callable[[MacroContext, list[str]], str]
"""A macro: ``(context, arguments) -> text``; raise ``ValueError`` to report a bad use.

Any other exception also becomes a :class:`~plutono_plugin.errors.QueryError` naming the macro
and the exception's type."""


def _arguments(name: str, arguments: list[str], count: int, what: str) -> list[str]:
    if len(arguments) != count or any(not argument for argument in arguments):
        raise ValueError(f"$__{name} needs {what}, got {len(arguments)} argument(s)")
    return arguments


def _time_filter(context: MacroContext, arguments: list[str]) -> str:
    [column] = _arguments("timeFilter", arguments, 1, "1 argument (a time column)")
    time_range = context.query.time_range
    start, end = context.time_literal(time_range.start), context.time_literal(time_range.end)
    return f"{column} BETWEEN {start} AND {end}"


def _time_from(context: MacroContext, arguments: list[str]) -> str:
    _arguments("timeFrom", arguments, 0, "no arguments")
    return context.time_literal(context.query.time_range.start)


def _time_to(context: MacroContext, arguments: list[str]) -> str:
    _arguments("timeTo", arguments, 0, "no arguments")
    return context.time_literal(context.query.time_range.end)


def _interval(context: MacroContext, arguments: list[str]) -> str:
    _arguments("interval", arguments, 0, "no arguments")
    return format_duration(context.interval)


def _interval_ms(context: MacroContext, arguments: list[str]) -> str:
    _arguments("interval_ms", arguments, 0, "no arguments")
    return str(context.interval // timedelta(milliseconds=1))


def _time_group(context: MacroContext, arguments: list[str]) -> str:
    column, step = _arguments(
        "timeGroup", arguments, 2, "2 arguments (a time column and an interval)"
    )
    step = step.strip("'\"")
    interval = context.interval if step == "$__interval" else parse_duration(step)
    if interval <= timedelta(0):
        raise ValueError(f"$__timeGroup needs a positive interval, got {step!r}")
    return context.time_group(column, interval)


DEFAULT_MACROS: Mapping[str, MacroFunction] = {
    "timeFilter": _time_filter,
    "timeFrom": _time_from,
    "timeTo": _time_to,
    "interval": _interval,
    "interval_ms": _interval_ms,
    "timeGroup": _time_group,
}

_MACRO = re.compile(r"\$__(\w+)")


def _split_arguments(text: str, start: int, name: str) -> tuple[list[str], int]:
    """Arguments of the call whose ``(`` is at ``start``; returns them and the index after ``)``."""
    depth, quote = 0, ""
    current: list[str] = []
    arguments: list[str] = []
    for index in range(start + 1, len(text)):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                arguments.append("".join(current).strip())
                if arguments == [""]:
                    arguments = []
                return arguments, index + 1
            depth -= 1
        elif char == "," and depth == 0:
            arguments.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    raise ValueError(f"$__{name}( is not closed: missing ')'")


def _naming(name: str, error: ValueError) -> str:
    """The error's text, prefixed with the macro unless it names it already."""
    text = str(error)
    return text if f"$__{name}" in text else f"$__{name}: {text}"


def _expansion(name: str, text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"a macro must return text, got {type(text).__name__}")
    return text


def expand_macros(
    text: str,
    query: Query,
    *,
    interval: timedelta | None = None,
    min_interval: str | timedelta = timedelta(milliseconds=1),
    time_literal: Callable[[datetime], str] = epoch_literal,
    time_group: Callable[[str, timedelta], str] = _integer_time_group,
    macros: Mapping[str, MacroFunction] | None = None,
) -> str:
    """Expand every ``$__macro`` in ``text`` for ``query`` (see the module docs).

    ``interval`` defaults to :func:`~plutono_plugin.timeutil.effective_interval` of the query
    with ``min_interval``. ``time_literal`` writes the time range's ends (default
    :func:`epoch_literal`, epoch seconds; :func:`iso_literal` for timestamp columns);
    ``time_group`` writes ``$__timeGroup(column, interval)`` (default: integer arithmetic on
    epoch seconds). ``macros`` adds or overrides macro functions. Raises
    :class:`~plutono_plugin.errors.QueryError` for a macro that cannot be expanded.
    """
    table = {**DEFAULT_MACROS, **(macros or {})}
    try:
        step = interval or effective_interval(query, min_interval=min_interval)
    except ValueError as error:
        raise QueryError(f"invalid interval: {error}", ref_id=query.ref_id) from None
    context = MacroContext(query, step, time_literal, time_group)
    out: list[str] = []
    position = 0
    while (match := _MACRO.search(text, position)) is not None:
        name = match.group(1)
        out.append(text[position : match.start()])
        end = match.end()
        try:
            function = table.get(name)
            if function is None:
                known = ", ".join(f"$__{key}" for key in sorted(table))
                raise ValueError(f"unknown macro $__{name} (known: {known})")
            arguments: list[str] = []
            if end < len(text) and text[end] == "(":
                arguments, end = _split_arguments(text, end, name)
            out.append(_expansion(name, function(context, arguments)))
        except QueryError:
            raise
        except ValueError as error:  # a bad use, as MacroFunction documents it
            raise QueryError(
                f"cannot expand macros: {_naming(name, error)}", ref_id=query.ref_id
            ) from None
        except Exception as error:  # a custom macro's bug must still name the macro
            raise QueryError(
                f"cannot expand macros: $__{name} failed: {type(error).__name__}: {error}",
                ref_id=query.ref_id,
            ) from None
        position = end
    out.append(text[position:])
    return "".join(out)
