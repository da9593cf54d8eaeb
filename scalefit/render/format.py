"""The one number formatter (``fmt``, ``fmt_ci``) and ``safe_text`` for values from the data.

``safe_text`` is the one place names and values from the data are made safe to show: it
makes control characters and escape sequences visible instead of letting a terminal or a
Markdown viewer act on them (``\\x1b[31m`` prints as the text ``\\x1b[31m``), and shows
every invisible or confusable character escaped (``\\u200b``), so two names that differ
only in one never print alike; it shortens long strings where a message quotes them.
Escaped: what ``str.isprintable`` refuses (categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs
other than the space: zero-width spaces and joiners, bidirectional controls such as
U+061C and U+202E, U+2028/2029, lone surrogates, no-break spaces).
"""

from __future__ import annotations

import math

LONG = 200  # characters of one value quoted in a message


def _escape(ch: str) -> str:
    c = ord(ch)
    if ch.isprintable():
        return ch
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" if c < 0x10000 else f"\\U{c:08x}"


def safe_text(text, limit: int | None = None) -> str:
    """``text`` with control characters shown as escapes; cut to ``limit`` characters."""
    s = text if isinstance(text, str) else str(text)
    cut = limit is not None and len(s) > limit
    if cut:  # escape only what is shown: a 20 MB cell costs nothing
        s = s[:limit]
    if not s.isprintable():
        s = "".join(map(_escape, s))
    if limit is not None and (cut or len(s) > limit):
        s = s[: max(limit - 3, 1)] + "..."
    return s


def quote(value, limit: int = LONG) -> str:
    """A value from the data as a message quotes it: repr, escaped, shortened."""
    if isinstance(value, str) and len(value) > limit:
        value = value[:limit]  # shortened below; repr of the whole would cost its length
        return safe_text(repr(value)[:-1], limit - 3).removesuffix("...") + "..."
    return safe_text(repr(value), limit)


def name_list(names, limit: int = 20, each: int = 40, quoted: bool = False) -> str:
    """Names from the data as a message lists them: each made safe and cut to ``each``
    characters, at most ``limit`` of them, then how many there are in all."""
    names = [str(n) for n in names]
    shown = [quote(n, each) if quoted else safe_text(n, each) for n in names[:limit]]
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(shown) + more


def count(n: int, word: str, plural: str | None = None) -> str:
    """'1 sweep', '3 sweeps' (``plural`` for irregular words)."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def fmt(v, digits: int = 3) -> str:
    """A number, compactly: ``digits`` significant digits, exponent notation below 1e-3 or
    from 1e5 on; a whole number from 1e3 to 1e5 in full (3120, not 3.12e+03: the widths,
    batch sizes and step counts tables show read as the data hold them); '-' for a missing
    value; text is returned as it is (made safe)."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return safe_text(v)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return safe_text(v)
    if not math.isfinite(v):
        return "-"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    if 1e3 <= abs(v) < 1e5 and v == int(v):
        return f"{int(v)}"
    return f"{v:.{digits}g}"


def fmt_level(v) -> str:
    """A group's value (a ``--by`` column's), as the table has it: an integral number in
    full (1024, not 1.02e+03), others by ``fmt``; text as it is."""
    if isinstance(v, (int, float)) or hasattr(v, "item"):
        v = v.item() if hasattr(v, "item") else v
        if isinstance(v, bool):
            return str(v)
        if isinstance(v, (int, float)) and math.isfinite(v) and float(v).is_integer() \
                and abs(v) < 1e15:
            return str(int(v))
    return fmt(v)


def fmt_ci(pair) -> str:
    """``[lo, hi]``, or '' when the interval does not exist."""
    if pair is None or any(p is None or not math.isfinite(float(p)) for p in pair):
        return ""
    return f"[{fmt(pair[0])}, {fmt(pair[1])}]"


def open_ci(r, name: str, tried: str) -> str:
    """The interval of ``name`` in the row ``r`` (``<name>_lo``, ``<name>_hi``); an end that
    runs past the range tried (``<name>_ci_open``: "low", "high" or "both") shows as open,
    ``< <tried>_tried_lo`` or ``> <tried>_tried_hi`` (``[< 0.001, 0.02]``)."""
    open_ = r.get(f"{name}_ci_open") or ""
    lo, hi = r.get(f"{name}_lo"), r.get(f"{name}_hi")
    if not isinstance(open_, str) or not open_:
        return fmt_ci((lo, hi))
    lo = f"< {fmt(r.get(f'{tried}_tried_lo'))}" if open_ in ("low", "both") else fmt(lo)
    hi = f"> {fmt(r.get(f'{tried}_tried_hi'))}" if open_ in ("high", "both") else fmt(hi)
    return f"[{lo}, {hi}]"


def fmt_with_ci(value, pair) -> str:
    """``value [lo, hi]`` (the interval only where it exists)."""
    return f"{fmt(value)} {fmt_ci(pair)}".strip()


def group_text(group: dict, sep: str = ", ") -> str:
    """``k=v, ...`` of a group (numbers formatted), made safe."""
    return sep.join(f"{k}={fmt(v) if isinstance(v, float) else safe_text(v)}"
                    for k, v in group.items())


def group_label(group: dict | None, empty: str = "all") -> str:
    """The values of a group joined by '/' (``mup``, ``sp/0.1``), or ``empty``."""
    return "/".join(safe_text(v) for v in group.values()) if group else empty
