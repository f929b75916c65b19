"""Clinical times in a site's time zone: the one parser of entered times, and their display.

Every clinical time (a form's assessment time, a dose, a vital-sign reading, a VAS, an adverse
event's onset, a consent) is stored in UTC and entered and shown in the time zone of the
participant's site (``[study] sites = [{ code, name, time_zone = "Europe/Oslo" }]``; a site
without ``time_zone`` keeps UTC).

Rules (see ``docs/protocol.md``):

* a time with an offset (``2024-03-01T09:00+01:00``, ``…Z``) means that instant, whatever the
  zone;
* a time without an offset is a wall-clock time in the site's zone — only where a zone is
  given (web pages). Programs (the JSON API) pass ``zone=None``: a naive time is refused;
* a wall-clock time that does not exist (the hour skipped when clocks spring forward) is
  refused; one that happens twice (the hour repeated when clocks fall back) is refused unless
  the caller says which one (``fold=0`` the first, summer time; ``fold=1`` the second).

Examples
--------
>>> oslo = zone_named("Europe/Oslo")
>>> parse_clinical_time("2024-06-03T14:05", oslo).isoformat()
'2024-06-03T12:05:00+00:00'
>>> show_time(parse_clinical_time("2024-06-03T12:05Z", None), oslo)
'2024-06-03 14:05 (Europe/Oslo)'
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from remit.errors import InputError
from remit.protocol.model import Protocol

__all__ = [
    "UTC_ZONE",
    "is_zone_name",
    "local_datetime",
    "local_input_value",
    "local_today",
    "parse_clinical_time",
    "show_time",
    "site_zone",
    "zone_named",
]

#: The zone of a site that declares none.
UTC_ZONE = ZoneInfo("UTC")


@cache
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the tz database's folders (about 12 ms): once per process
    # is enough, the zones a running Remit knows do not change under it.
    return frozenset(available_timezones())


def is_zone_name(name: str) -> bool:
    """Whether ``name`` is an IANA time-zone name known here (e.g. ``"Europe/Oslo"``).

    Examples
    --------
    >>> is_zone_name("Europe/Oslo"), is_zone_name("Europe/Olso"), is_zone_name("CET+1")
    (True, False, False)
    """
    if not isinstance(name, str) or not name or name != name.strip():
        return False
    if name in _known_zones():
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in name or name == "UTC"


def zone_named(name: str | None) -> ZoneInfo:
    """The zone called ``name`` (``None``: UTC); :class:`InputError` for an unknown name.

    Examples
    --------
    >>> zone_named("Europe/Oslo").key, zone_named(None).key
    ('Europe/Oslo', 'UTC')
    """
    if name is None:
        return UTC_ZONE
    if not is_zone_name(name):
        raise InputError(
            f"time zone {name!r} is unknown",
            expected="an IANA time-zone name such as Europe/Oslo or UTC",
        )
    return ZoneInfo(name)


def site_zone(protocol: Protocol, site_code: str | None) -> ZoneInfo:
    """The time zone of site ``site_code`` as the protocol declares it (UTC for a site without
    ``time_zone`` or one the protocol does not list).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> site_zone(load_protocol("oslo-mdma-mdd"), "OST").key
    'Europe/Oslo'
    """
    for site in protocol.study.sites:
        if site.code == site_code:
            return zone_named(site.time_zone)
    return UTC_ZONE


def local_datetime(wall: datetime, zone: ZoneInfo, *, fold: int | None = None) -> datetime:
    """The instant (UTC) at which the clocks of ``zone`` showed the naive time ``wall``.

    Parameters
    ----------
    wall
        A naive date and time read off a clock in ``zone``.
    zone
        The site's zone.
    fold
        For a time that happens twice (clocks turned back): ``0`` the first, ``1`` the second.
        ``None`` refuses such a time.

    Raises
    ------
    InputError
        A time that does not exist in ``zone`` (clocks turned forward over it), or an
        ambiguous time without ``fold``.

    Examples
    --------
    >>> oslo = zone_named("Europe/Oslo")
    >>> local_datetime(datetime(2024, 10, 27, 2, 30), oslo, fold=1).isoformat()
    '2024-10-27T01:30:00+00:00'
    >>> try:
    ...     local_datetime(datetime(2024, 3, 31, 2, 30), oslo)
    ... except InputError as e:
    ...     print(e.message)
    2024-03-31 02:30 does not exist in Europe/Oslo: the clocks went from 02:00 to 03:00 that night
    >>> try:
    ...     local_datetime(datetime(2024, 10, 27, 2, 30), oslo)
    ... except InputError as e:
    ...     print(e.expected)
    which of the two: the first (summer time) or the second (standard time)
    """
    if wall.tzinfo is not None:
        raise InputError(f"{wall.isoformat()} already has a time zone", expected="a naive time")
    shown = wall.strftime("%Y-%m-%d %H:%M")
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    first_utc, second_utc = first.astimezone(UTC), second.astimezone(UTC)
    if first_utc == second_utc:
        return first_utc
    # A gap: the wall time maps back to itself under neither fold.
    if first_utc.astimezone(zone).replace(tzinfo=None) != wall:
        gap_start, gap_end = _gap_around(first_utc, second_utc, zone)
        raise InputError(
            f"{shown} does not exist in {zone.key}: the clocks went from "
            f"{gap_start:%H:%M} to {gap_end:%H:%M} that night",
            expected=f"a time before {gap_start:%H:%M} or from {gap_end:%H:%M} on",
            hint="check the time; if it was read off a clock not yet changed, enter it in the "
            "new time",
        )
    if fold is None:
        raise InputError(
            f"{shown} happened twice in {zone.key} (the clocks were turned back): "
            f"at {first_utc:%H:%M} UTC ({first:%Z}) and at {second_utc:%H:%M} UTC ({second:%Z})",
            expected="which of the two: the first (summer time) or the second (standard time)",
            hint="choose the first or second occurrence, or enter the time with its offset, "
            f"e.g. {first.isoformat(timespec='minutes')}",
        )
    if fold not in (0, 1):
        raise InputError(f"fold {fold!r} is not 0 or 1", expected="0 (first) or 1 (second)")
    return first_utc if fold == 0 else second_utc


def _gap_around(a: datetime, b: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The wall-clock times the clocks jumped from and to, for a gap whose two readings are
    the UTC instants ``a`` and ``b``: the transition lies between them."""
    lo, hi = sorted((a, b))
    after = hi.astimezone(zone).utcoffset()
    step = timedelta(minutes=1)
    t = lo
    while t < hi and t.astimezone(zone).utcoffset() != after:
        t += step
    before = (t - step).astimezone(zone)
    return before + step, t.astimezone(zone)


def parse_clinical_time(
    text: str | datetime, zone: ZoneInfo | None, *, fold: int | None = None, name: str = "time"
) -> datetime:
    """A clinical time as entered (ISO 8601 text or a datetime) → an aware UTC datetime.

    With an offset the text means that instant. Without one it is a wall-clock time in
    ``zone`` (DST gaps refused, folds need ``fold``); with ``zone=None`` (the JSON API) a
    naive time is refused.

    Examples
    --------
    >>> parse_clinical_time("2024-01-15T08:00:00+01:00", None).isoformat()
    '2024-01-15T07:00:00+00:00'
    >>> parse_clinical_time("2024-01-15 08:00", zone_named("Europe/Oslo")).isoformat()
    '2024-01-15T07:00:00+00:00'
    >>> try:
    ...     parse_clinical_time("2024-01-15T08:00", None, name="given_at")
    ... except InputError as e:
    ...     print(e.message)
    given_at '2024-01-15T08:00' has no time-zone offset
    """
    if isinstance(text, datetime):
        value = text
    else:
        raw = str(text).strip()
        if not raw:
            raise InputError(f"{name} is empty", expected="a date and time, e.g. 2024-01-15 08:00")
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InputError(
                f"{name} {raw!r} is not a date and time",
                expected="YYYY-MM-DD HH:MM (in the site's time zone) or ISO 8601 with an offset",
            ) from None
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    if zone is None:
        raise InputError(
            f"{name} {str(text)!r} has no time-zone offset",
            expected="ISO 8601 with an offset, e.g. 2024-01-15T08:00:00+01:00 or …Z for UTC",
            hint="add the offset of the site's time zone at that date",
        )
    return local_datetime(value.replace(tzinfo=None), zone, fold=fold)


def show_time(value: datetime | None, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """A stored (UTC) time as the site's wall clock, labelled with the zone; ``""`` for None.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> show_time(datetime(2024, 1, 15, 7, 0, tzinfo=UTC), zone_named("Europe/Oslo"))
    '2024-01-15 08:00 (Europe/Oslo)'
    """
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M{':%S' if seconds else ''}} ({zone.key})"


def local_input_value(value: datetime | None, zone: ZoneInfo) -> str:
    """A time as the value of an HTML ``datetime-local`` input in ``zone`` (``""`` for None).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> local_input_value(datetime(2024, 7, 1, 10, 0, tzinfo=UTC), zone_named("Europe/Oslo"))
    '2024-07-01T12:00'
    """
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def local_today(now: datetime, zone: ZoneInfo) -> date:
    """The calendar date in ``zone`` at the instant ``now``.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> local_today(datetime(2024, 7, 1, 23, 30, tzinfo=UTC), zone_named("Europe/Oslo"))
    datetime.date(2024, 7, 2)
    """
    return now.astimezone(zone).date()
