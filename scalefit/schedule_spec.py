"""Schedule descriptions as text: ``SHAPE:key=value,key=value,...`` -> ``ScheduleSpec``.

Keys: ``total`` (steps), ``peak`` (LR), ``warmup`` (steps, default 0), ``end`` (LR, default
0), ``decay_start`` (step; ``wsd``), ``decay`` (``linear``, ``exp``, ``cosine``, ``sqrt``;
``wsd``), ``pieces`` (``piecewise``: ``STEP@LR;STEP@LR``), ``warmup_from`` (``zero``, the
default: the warmup rises linearly from LR 0 at step 0 to the peak at step warmup - 1, the
Multi-Power Law authors' convention; ``step``: LR peak (s + 1) / warmup at step s, so
peak / warmup at step 0, as the reference trainer and PyTorch's ``LambdaLR((s + 1) / W)``
warm up). Counts take suffixes (``24k``).
Examples::

    cosine:total=24000,warmup=2160,peak=3e-4,end=3e-5
    wsd:total=24000,warmup=2160,peak=3e-4,end=3e-5,decay_start=20000,decay=exp
    wsd:total=2048,warmup=8,peak=0.016,end=0.0016,decay_start=1638,warmup_from=step
    piecewise:total=16000,warmup=2160,peak=3e-4,pieces=8000@9e-5
"""

from __future__ import annotations

from .core.schedules import SHAPES, ScheduleSpec
from .errors import ScalefitInputError

_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9}
KEYS = {"total": "total_steps", "peak": "peak_lr", "warmup": "warmup_steps", "end": "end_lr",
        "decay_start": "decay_start", "decay": "decay_shape", "pieces": "pieces",
        "warmup_from": "warmup_from"}


def _number(text: str, what: str) -> float:
    t = text.strip().lower()
    mult = _SUFFIX.get(t[-1:], 1.0)
    try:
        return float(t[:-1] if mult != 1.0 else t) * mult
    except ValueError:
        raise ScalefitInputError(f"schedule: {what}={text!r} is not a number") from None


def _steps(text: str, what: str) -> int:
    v = _number(text, what)
    if v != int(v) or v < 0:
        raise ScalefitInputError(f"schedule: {what}={text!r} is not a whole number of steps")
    return int(v)


def parse_schedule(text: str) -> ScheduleSpec:
    """Parse a description (see the module doc); one clear line on a bad one."""
    shape, _, rest = str(text).strip().partition(":")
    shape = shape.strip().lower()
    if shape not in SHAPES:
        raise ScalefitInputError(f"schedule {text!r}: the shape must be one of "
                                 f"{', '.join(SHAPES)} (e.g. 'cosine:total=24000,peak=3e-4')")
    kw: dict = {"shape": shape}
    for item in filter(None, (x.strip() for x in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq or key not in KEYS:
            raise ScalefitInputError(f"schedule {text!r}: {item!r} is not one of "
                                     f"{', '.join(k + '=...' for k in KEYS)}")
        if key in ("total", "warmup", "decay_start"):
            kw[KEYS[key]] = _steps(value, key)
        elif key in ("decay", "warmup_from"):
            kw[KEYS[key]] = value.strip().lower()
        elif key == "pieces":
            pieces = []
            for p in filter(None, value.split(";")):
                step, at, lr = p.partition("@")
                if not at:
                    raise ScalefitInputError(f"schedule {text!r}: piece {p!r} is not STEP@LR")
                pieces.append((_steps(step, "piece step"), _number(lr, "piece LR")))
            kw["pieces"] = tuple(pieces)
        else:
            kw[KEYS[key]] = _number(value, key)
    for need in ("total", "peak"):
        if KEYS[need] not in kw:
            raise ScalefitInputError(f"schedule {text!r}: needs {need}=...")
    spec = ScheduleSpec(**kw)
    try:
        spec.check()
    except ValueError as e:
        raise ScalefitInputError(f"schedule {text!r}: {e}") from None
    return spec


def format_schedule(spec: ScheduleSpec) -> str:
    """The text form of ``spec`` (``parse_schedule`` reads it back)."""
    parts = [f"total={spec.total_steps}", f"warmup={spec.warmup_steps}", f"peak={spec.peak_lr:g}"]
    if spec.shape != "constant":
        parts.append(f"end={spec.end_lr:g}")
    if spec.shape == "wsd":
        parts += [f"decay_start={spec.decay_start}", f"decay={spec.decay_shape}"]
    if spec.shape == "piecewise":
        parts.append("pieces=" + ";".join(f"{s}@{v:g}" for s, v in spec.pieces))
    if spec.warmup_from != "zero":
        parts.append(f"warmup_from={spec.warmup_from}")
    return f"{spec.shape}:" + ",".join(parts)
