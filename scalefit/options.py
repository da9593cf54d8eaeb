"""Options stored once: one constraint table, one message, three value objects.

``RULES`` says what every option of the public functions and of the command line may be;
``check`` applies a rule to a value (the Python keywords) and ``parse`` to a text (the
command line's argument types, ``cli.parser``), so a bad value reads the same from both:
``NAME must be RULE (got VALUE)``, NAME being the keyword or the flag (``MESSAGE``).

``Columns`` (what the table's columns and rows mean), ``FitOptions`` (how the sweeps and
laws are fitted) and ``PlanOptions`` (which runs to propose) are frozen value objects,
checked when built. The public functions (``scalefit.fit``, ``next_runs``,
``FitResult.next_runs``, ...) keep their keywords, build the objects at their entry and
hand them down; everything inside trusts them (as scikit-learn's estimators validate
their parameters at ``fit`` and lmfit's ``Model.fit(data, params)`` takes its parameters
as one object). Standard library only, so ``scalefit --help`` stays instant.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .core.defaults import (
    BLOWUP,
    DEFAULT_WINDOW,
    FLAT_Z,
    GAP_SD,
    MAX_BOOT,
    MAX_BUDGET,
    MAX_MISFIT,
    MAX_WINDOW,
)
from .core.status_names import STATUS_NAMES
from .errors import ScalefitInputError

MESSAGE = "{name} must be {rule} (got {value}){tail}"
OFF = ("off", "none", "no")
FIX_NAMES = {"a": "scale", "b": "horizon"}  # exponents of the laws of lr_opt that fix= holds


@dataclass(frozen=True)
class Rule:
    """What an option may be. ``kind``: ``count`` (a whole number), ``real`` (a finite
    number), ``choice`` (one of ``choices``), ``choices`` (several of them), ``flag`` (True
    or False), ``progress``, ``group`` (a mapping of by column -> value), ``fix`` (a mapping
    of exponent -> finite number). ``lo``/``hi``: bounds (open with ``lo_open``/``hi_open``);
    ``none``: None allowed (not given); ``off``: words (and None, False) meaning off (None);
    ``refuse``: values refused inside the bounds; ``many``: a list of such values;
    ``amount``/``percent``: the command line also takes 7B / a percentage (``text_cli`` and
    ``tail_cli`` say so); ``tail``: an example or what to do, after the value."""

    kind: str
    text: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple = ()
    none: bool = False
    off: tuple = ()
    refuse: tuple = ()
    many: bool = False
    amount: bool = False
    percent: bool = False
    text_cli: str = ""
    tail: str = ""
    tail_cli: str = ""


_LEVEL = dict(kind="real", text="a level strictly between 0 and 1", lo=0, hi=1, lo_open=True,
              hi_open=True, percent=True, tail="e.g. 0.95",
              text_cli="a level strictly between 0 and 1 or a percentage from 50 to under 100",
              tail_cli="e.g. 0.95 or 95")
_POSITIVE = dict(kind="real", text="a finite number > 0", lo=0, lo_open=True)
_AMOUNT = dict(_POSITIVE, amount=True, tail="e.g. 7e9 or 7B")

RULES: dict[str, Rule] = {
    # the fit (scalefit.fit, next_runs, backtest, fit_isoflop, fit_chinchilla)
    "n_boot": Rule("count", f"a whole number from 0 to {MAX_BOOT}", lo=0, hi=MAX_BOOT),
    "chinchilla_n_boot": Rule("count", f"0 (no intervals) or a whole number from 2 to {MAX_BOOT}",
                              lo=0, hi=MAX_BOOT, refuse=(1,), tail="try 1000"),
    "seed": Rule("count", "a whole number >= 0", lo=0),
    "ci": Rule(**_LEVEL),
    "optima_level": Rule(**_LEVEL),
    "level": Rule(**dict(_LEVEL, none=True)),
    "window": Rule("count", f"a whole number of grid steps from 1 to {MAX_WINDOW}", lo=1,
                   hi=MAX_WINDOW),
    "include": Rule("choices", "sweep statuses among " + ", ".join(STATUS_NAMES),
                    choices=STATUS_NAMES),
    "blowup": Rule("real", "'off' or a finite factor > 1", lo=1, lo_open=True, off=OFF,
                   tail="e.g. 1.3"),
    "diverged_above": Rule("real", "a finite number > 1", lo=1, lo_open=True, none=True),
    "max_misfit": Rule(**_POSITIVE),
    "floor_gap": Rule(**_POSITIVE),
    "flat_z": Rule("real", "a finite number >= 0 or None", lo=0, none=True),
    "optima": Rule("flag", "True, False or None (detected)", none=True),
    "require_optimum": Rule("flag", "True or False"),
    "keep_draws": Rule("flag", "True or False"),
    "fix": Rule("fix", "a mapping of exponent a (scale) or b (horizon), or of "
                "'COL=VALUE:a' (the groups with that --by value), to a finite number",
                none=True, tail="e.g. {'a': 0} or {'parameterization=sp:a': -1}"),
    "missing_loss": Rule("choice", "'skip' or 'diverged'", choices=("skip", "diverged")),
    "keep_duplicates": Rule("flag", "True or False"),
    "progress": Rule("progress", "'auto', None or a callable progress(done, total)"),
    "huber_delta": Rule(**_POSITIVE),
    "budget_tol": Rule("real", "a relative tolerance strictly between 0 and 1", lo=0, hi=1,
                       lo_open=True, hi_open=True, tail="e.g. 0.1 for 10%"),
    "levels": Rule("count", "a whole number from 1 to 100", lo=1, hi=100, none=True),
    # the runs to propose (FitResult.next_runs, next_runs)
    "budget": Rule("count", f"a whole number from 1 to {MAX_BUDGET}", lo=1, hi=MAX_BUDGET,
                   tail="propose in rounds: train, refit, propose again"),
    "target_scale": Rule(**dict(_AMOUNT, none=True)),
    "target_horizon": Rule(**dict(_AMOUNT, none=True, tail="e.g. 1e12 or 1T")),
    "group": Rule("group", "a mapping of by column -> value, or None", none=True,
                  tail="e.g. {'parameterization': 'mup'}"),
    "cost": Rule("choice", "'flops' or 'runs'", choices=("flops", "runs")),
    "objective": Rule("choice", "'variance' or 'loss'", choices=("variance", "loss")),
    "new_scales": Rule(**dict(_AMOUNT, many=True)),
    "new_horizons": Rule(**dict(_AMOUNT, many=True, tail="e.g. 1e12 or 1T")),
    "new_sweeps": Rule("flag", "True or False"),
    "new_sweep_lrs": Rule("count", "a whole number >= 3", lo=3),
    "per_group": Rule("flag", "True or False"),
    "past": Rule("count", "a whole number >= 0", lo=0),
    # decisions on a fit (predict, audit, transfer, allocate) and the laws' margins
    "scale": Rule(**dict(_AMOUNT, none=True)),
    "horizon": Rule(**dict(_AMOUNT, none=True, tail="e.g. 1e12 or 1T")),
    "bs": Rule(**dict(_AMOUNT, none=True, tail="e.g. 256")),
    "lr": Rule(**dict(_POSITIVE, tail="e.g. 3e-4")),
    "horizon_ref": Rule(**dict(_AMOUNT, tail="e.g. 1e10 or 10B")),
    "horizon_target": Rule(**dict(_AMOUNT, tail="e.g. 1e12 or 1T")),
    "b": Rule("real", "a finite number", tail="e.g. -0.32"),
    "beta": Rule("real", "a finite number", tail="e.g. 0.32"),
    "budgets": Rule(**dict(_AMOUNT, many=True, text="a finite number of FLOPs > 0",
                           tail="e.g. 1e21")),
    "margin": Rule("real", "a finite number >= 0", lo=0, tail="e.g. 0.1"),
    # whole loss curves (scalefit curve)
    "curve_lambda": Rule("real", "a decay strictly between 0 and 1", lo=0, hi=1, lo_open=True,
                         hi_open=True, tail="e.g. 0.999"),
    "cooldown": Rule("count", "a whole number of steps >= 1", lo=1, none=True),
    "end_lr": Rule(**dict(_POSITIVE, none=True, tail="e.g. 3e-5")),
}


def message(name: str, rule: Rule, value, cli: bool = False) -> str:
    """The one message of a violated rule (``MESSAGE``)."""
    text = (rule.text_cli or rule.text) if cli else rule.text
    tail = (rule.tail_cli or rule.tail) if cli else rule.tail
    return MESSAGE.format(name=name, rule=text, value=_shown(value),
                          tail=f"; {tail}" if tail else "")


def _shown(value) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(name: str, rule: Rule, value, cli: bool = False):
    raise ScalefitInputError(message(name, rule, value, cli))


def check(key: str, value, name: str | None = None):
    """``value`` if it keeps ``RULES[key]`` (normalized: a whole number as int, a factor
    given as 'off' as None, several choices as a tuple, a mapping as a tuple of pairs),
    else a ``ScalefitInputError`` with the one message, naming the option ``name``
    (default ``key``)."""
    rule, name = RULES[key], name or key
    if value is None and (rule.none or rule.off or rule.kind == "progress"):
        return None
    if rule.many:
        if isinstance(value, (str, bytes, Mapping)) or not _iterable(value):
            value = (value,)
        one = dataclasses.replace(rule, many=False, none=False)
        return tuple(_check_one(f"{name}[{i}]", one, v) for i, v in enumerate(value))
    return _check_one(name, rule, value)


def _iterable(value) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


def _check_one(name: str, rule: Rule, value):
    kind = rule.kind
    if kind == "count":
        if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                or not _inside(rule, value) or value in rule.refuse):
            _fail(name, rule, value)
        return int(value)
    if kind == "real":
        if rule.off and (value is False or (isinstance(value, str)
                                            and value.strip().lower() in rule.off)):
            return None
        if rule.off and isinstance(value, str):  # a factor given as text: '1.3'
            try:
                value = float(value)
            except ValueError:
                _fail(name, rule, value)
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not math.isfinite(value) or not _inside(rule, value)):
            _fail(name, rule, value)
        return float(value) if rule.off else value
    if kind == "choice":
        if not isinstance(value, str) or value not in rule.choices:
            _fail(name, rule, value)
        return value
    if kind == "choices":
        values = (value,) if isinstance(value, str) else value
        if not _iterable(values) or not all(isinstance(v, str) and v in rule.choices
                                            for v in values):
            _fail(name, rule, list(values) if _iterable(values) else values)
        return tuple(values)
    if kind == "flag":
        if not (isinstance(value, bool) or (type(value).__module__ == "numpy"
                                             and type(value).__name__ in ("bool_", "bool"))):
            _fail(name, rule, value)
        return bool(value)
    if kind == "progress":
        if not (value == "auto" if isinstance(value, str) else callable(value)):
            _fail(name, rule, value)
        return value
    if kind == "group":
        if not isinstance(value, Mapping):
            _fail(name, rule, value)
        return tuple((k, v) for k, v in value.items()) or None
    if kind == "fix":
        return _fix(name, rule, value)
    raise AssertionError(f"unknown kind of rule: {kind}")


def _inside(rule: Rule, v) -> bool:
    lo = rule.lo is None or (v > rule.lo if rule.lo_open else v >= rule.lo)
    return lo and (rule.hi is None or (v < rule.hi if rule.hi_open else v <= rule.hi))


def fix_key(key: str) -> tuple[tuple[tuple[str, str], ...], str] | None:
    """A key of ``fix``: ``a`` (every group) or ``COL=VALUE[,COL=VALUE...]:a`` (the groups
    whose ``--by`` columns have those values), as (((col, value), ...), exponent); None
    for a key that is neither."""
    where, _, name = key.rpartition(":")
    if name not in FIX_NAMES:
        return None
    if not where:
        return (), name
    pairs = []
    for part in where.split(","):
        col, eq, val = part.partition("=")
        if not eq or not col.strip():
            return None
        pairs.append((col.strip(), val.strip()))
    return tuple(pairs), name


def _fix(name: str, rule: Rule, value) -> tuple:
    pairs = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = tuple((k, v) for k, v in pairs)
    except (TypeError, ValueError):
        _fail(name, rule, value)
    out = []
    for k, v in pairs:
        good = (isinstance(k, str) and fix_key(k) is not None and not isinstance(v, bool)
                and isinstance(v, numbers.Real) and math.isfinite(v))
        if not good:
            _fail(name, rule, dict(pairs) if isinstance(value, Mapping) else value)
        out.append((k, float(v)))
    return tuple(out)


_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_AMOUNT_TEXT = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgGtT]?)\s*")


def parse(key: str, text: str, name: str):
    """The value of ``RULES[key]`` a command-line text gives, or a ScalefitInputError with
    the one message naming the flag ``name`` (``cli.parser`` turns it into a usage
    error). One value: a flag that takes several (``--new-scale``) gives each its own."""
    rule = dataclasses.replace(RULES[key], many=False, none=False)
    value = _from_text(rule, text)
    if value is _BAD:
        _fail(name, rule, text, cli=True)
    try:
        return _check_one(name, rule, value)
    except ScalefitInputError:
        _fail(name, rule, text, cli=True)


_BAD = object()


def _from_text(rule: Rule, text: str):
    t = text.strip()
    try:
        if rule.kind == "count":
            return int(t)
        if rule.kind != "real":
            return text
        if rule.off and t.lower() in rule.off:
            return False
        if rule.amount:
            m = _AMOUNT_TEXT.fullmatch(t)
            return float(m.group(1)) * _SUFFIX[m.group(2).lower()] if m else _BAD
        v = float(t)
        return v / 100 if rule.percent and 50 <= v < 100 else v
    except ValueError:
        return _BAD


# ---------------------------------------------------------------- value objects


class _Options:
    """Checked on construction (``RULES``); ``to_dict`` / ``from_dict`` round-trip;
    ``replace(**changes)`` a copy with some options changed (checked again)."""

    _rule_of: dict = {}  # field -> key of RULES (default: the field's own name)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            key = self._rule_of.get(f.name, f.name)
            value = getattr(self, f.name)
            if key is None:  # a column name or a label: as given
                continue
            if key == "names":  # names as a tuple (one name may be given as a string)
                value = ((value,) if isinstance(value, str) else
                         () if value is None else tuple(value))
            else:
                value = check(key, value, f.name)
            object.__setattr__(self, f.name, value)

    def to_dict(self) -> dict:
        """Field -> value, JSON-ready (tuples as lists, pairs as a mapping)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if RULES.get(self._rule_of.get(f.name, f.name), Rule("", "")).kind in ("group",
                                                                                   "fix"):
                v = None if v is None else dict(v)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, d: Mapping):
        """The options ``to_dict`` wrote (unknown keys refused)."""
        names = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(d) - names)
        if extra:
            raise ScalefitInputError(f"{cls.__name__}: unknown option(s) {', '.join(extra)}; "
                                     f"the options are {', '.join(sorted(names))}")
        return cls(**d)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Columns(_Options):
    """What the table's columns and rows mean (``load_runs``): the role columns (None:
    found by name), the ``by`` columns, the status column and the values that also mean a
    finished run, ``COL:REGEX`` columns to extract, what an empty loss means, whether
    repeated rows are kept, and the column naming each run's stable run (``branch_of``;
    None: a column named ``branch_of`` when present)."""

    scale: str | None = None
    horizon: str | None = None
    lr: str | None = None
    loss: str | None = None
    by: tuple[str, ...] = ()
    status: str | None = None
    status_ok: tuple[str, ...] = ()
    extract: tuple[str, ...] = ()
    missing_loss: str = "skip"
    keep_duplicates: bool = False
    branch_of: str | None = None

    _rule_of = {"scale": None, "horizon": None, "lr": None, "loss": None, "status": None,
                "by": "names", "status_ok": "names", "extract": "names", "branch_of": None}

    @property
    def roles(self) -> dict:
        """{"scale": ..., "horizon": ..., "lr": ..., "loss": ...}: the columns given."""
        return {"scale": self.scale, "horizon": self.horizon, "lr": self.lr, "loss": self.loss}


@dataclass(frozen=True)
class FitOptions(_Options):
    """How ``scalefit.fit`` fits the sweeps, their resamples and the laws (see its
    docstring for each option); ``blowup`` is a factor or None (off), ``fix`` a tuple of
    (exponent, value) pairs (``fix_dict``)."""

    n_boot: int = 1000
    ci: float = 0.95
    seed: int = 0
    window: int = DEFAULT_WINDOW
    include: tuple[str, ...] = ("ok",)
    reference: str | None = None
    diverged_above: float | None = None
    blowup: float | None = BLOWUP
    max_misfit: float = MAX_MISFIT
    floor_gap: float = GAP_SD
    flat_z: float | None = FLAT_Z
    fix: tuple = field(default=())
    optima: bool | None = None
    optima_level: float = 0.95
    joint: str | None = None
    require_optimum: bool = False
    keep_draws: bool = False

    _rule_of = {"reference": None, "joint": None}

    def __post_init__(self):
        super().__post_init__()
        if self.fix is None:
            object.__setattr__(self, "fix", ())

    @property
    def fix_dict(self) -> dict[str, float]:
        return dict(self.fix)


@dataclass(frozen=True)
class PlanOptions(_Options):
    """Which runs ``FitResult.next_runs`` proposes (see its docstring): ``budget`` runs (in
    all, or per by group), for the target at (``target_scale``, ``target_horizon``) or
    every sweep's own optimum, in the by groups ``group`` selects (pairs; ``group_dict``)."""

    budget: int
    target_scale: float | None = None
    target_horizon: float | None = None
    group: tuple | None = None
    cost: str = "flops"
    objective: str = "variance"
    new_scales: tuple[float, ...] = ()
    new_horizons: tuple[float, ...] = ()
    new_sweeps: bool = True
    new_sweep_lrs: int = 5
    per_group: bool = False
    past: int = 2

    @property
    def group_dict(self) -> dict | None:
        return None if self.group is None else dict(self.group)

    @property
    def law_mode(self) -> bool:
        """A law's prediction is the target (a target scale or horizon was given)."""
        return self.target_scale is not None or self.target_horizon is not None


COLUMN_FIELDS = tuple(f.name for f in dataclasses.fields(Columns))
FIT_FIELDS = tuple(f.name for f in dataclasses.fields(FitOptions))


def split_fit_options(options: Mapping, where: str) -> tuple[dict, dict]:
    """Keywords for ``scalefit.fit`` as (Columns fields, FitOptions fields); anything else
    is a TypeError, as for an unknown keyword argument of ``where``."""
    cols = {k: v for k, v in options.items() if k in COLUMN_FIELDS}
    fits = {k: v for k, v in options.items() if k in FIT_FIELDS}
    extra = sorted(set(options) - set(cols) - set(fits))
    if extra:
        raise TypeError(f"{where}() got an unexpected keyword argument {extra[0]!r}")
    return cols, fits
