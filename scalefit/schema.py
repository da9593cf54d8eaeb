"""The JSON result schema (DESIGN section 4) and a small validator for it.

``SCHEMA_VERSION`` (key ``schema_version``) numbers the layout of the saved fit;
``scalefit.load_fit`` reads only the versions in ``READABLE_VERSIONS`` and checks a file
against ``SCHEMA`` before it builds anything from it.

``SCHEMA`` is written in a subset of JSON Schema (``type`` with lists for nullable
values, ``properties``, ``required``, ``items``, ``enum``, ``minItems``/``maxItems``,
``additionalProperties``), so any JSON Schema tool can also read it. ``validate``
checks that subset with no extra dependency. docs/json-schema.md describes each key.
"""

from __future__ import annotations

SCHEMA_VERSION = 2
READABLE_VERSIONS = (2,)

NUM = {"type": "number"}
NUM_OR_NULL = {"type": ["number", "null"]}
PAIR_OR_NULL = {"type": ["array", "null"], "items": NUM_OR_NULL, "minItems": 2, "maxItems": 2}
GROUP = {"type": "object"}
STATUS = {"enum": ["ok", "edge", "too_few", "not_convex", "all_diverged", "bad_fit", "off_grid",
                  "div_bracketed", "flat"]}

OPTIMUM = {
    "type": "object",
    "required": ["group", "scale", "horizon", "lr_opt", "lr_opt_ci", "loss_opt", "curvature",
                 "curvature_ci", "status", "n_runs", "n_diverged"],
    "properties": {
        "group": GROUP,
        "scale": NUM_OR_NULL,
        "horizon": NUM_OR_NULL,
        "lr_opt": NUM_OR_NULL,
        "lr_opt_ci": PAIR_OR_NULL,
        "loss_opt": NUM_OR_NULL,
        "loss_opt_ci": PAIR_OR_NULL,
        "curvature": NUM_OR_NULL,
        "curvature_ci": PAIR_OR_NULL,
        "status": STATUS,
        "n_runs": {"type": "integer"},
        "n_diverged": {"type": "integer"},
        "lr_best": NUM_OR_NULL,
        "n_lrs": {"type": "integer"},
        "n_window": {"type": "integer"},
        "fit_rmse": NUM_OR_NULL,
        "window": PAIR_OR_NULL,
        "lr_opt_ci_open": {"enum": ["low", "high", "both", None]},
        "loss_best": NUM_OR_NULL,
        "misfit": NUM_OR_NULL,
        "tried": PAIR_OR_NULL,
        "lr_diverged": NUM_OR_NULL,
        "boot_kind": {"type": ["string", "null"]},
        "noise_ratio": NUM_OR_NULL,
        "aberrant": {"type": ["boolean", "null"]},
        "flat_z": NUM_OR_NULL,
    },
}

EXTRAPOLATION = {
    "type": ["object", "null"],
    "required": ["left_out", "value", "error_log", "rmse_log", "loss_cost"],
    "properties": {
        "left_out": {"enum": ["scale", "horizon"]},
        "value": NUM,
        "n_left_out": {"type": "integer"},
        "error_log": NUM,
        "error_log_ci": PAIR_OR_NULL,
        "rmse_log": NUM,
        "loss_cost": NUM_OR_NULL,
    },
}

LAW = {
    "type": "object",
    "required": ["group", "target", "form", "params", "ci", "n_points"],
    "properties": {
        "group": GROUP,
        "target": {"enum": ["lr_opt", "curvature", "loss_opt"]},
        "form": {"type": "string"},
        "params": {"type": "object", "additionalProperties": NUM_OR_NULL},
        "ci": {"type": "object", "additionalProperties": PAIR_OR_NULL},
        "r2_log": NUM_OR_NULL,
        "rmse_log": NUM_OR_NULL,
        "r2": NUM_OR_NULL,
        "rmse": NUM_OR_NULL,
        "n_points": {"type": "integer"},
        "primary": {"type": "boolean"},
        "extrapolation": EXTRAPOLATION,
        "notes": {"type": "array", "items": {"type": "string"}},
        "range": {"type": "object", "additionalProperties": PAIR_OR_NULL},
        "draws": {"type": "array", "items": {"type": "array", "items": NUM_OR_NULL}},
        "ln_C": NUM_OR_NULL,
        "domain": {"type": "object", "additionalProperties": PAIR_OR_NULL},
        "audit_range": {
            "type": ["object", "null"],
            "properties": {"ratio_tried": PAIR_OR_NULL, "ratio_diverged": NUM_OR_NULL},
        },
        "L_inf_identified": {"type": "boolean"},
        "L_inf_reason": {"type": ["string", "null"]},
    },
}

TRANSFER_GROUP = {
    "type": "object",
    "required": ["group", "E", "E_ci", "extrapolation_error", "kappa", "kappa_ci", "R_inf",
                 "R_inf_ci", "delta_L_inf", "delta_L_inf_ci"],
    "properties": {
        "group": GROUP,
        **{k: NUM_OR_NULL for k in ("E", "extrapolation_error", "extrapolation_loss_cost",
                                    "kappa", "R_inf", "R_largest", "delta_L_inf", "L_inf",
                                    "lr_exponent", "R_mean")},
        **{k: PAIR_OR_NULL for k in ("E_ci", "extrapolation_error_ci", "kappa_ci", "R_inf_ci",
                                     "R_largest_ci", "delta_L_inf_ci", "lr_exponent_ci",
                                     "R_mean_ci")},
        **{k + "_identified": {"type": "boolean"} for k in ("R_inf", "delta_L_inf", "L_inf")},
        **{k + "_reason": {"type": ["string", "null"]} for k in ("R_inf", "delta_L_inf",
                                                                  "L_inf")},
        "n_scales": {"type": "integer"},
        "R_model": {"enum": ["power", "constant"]},
        "R_curve": {
            "type": "object",
            "required": ["scale", "R", "R_ci"],
            "properties": {
                "scale": {"type": "array", "items": NUM},
                "R": {"type": "array", "items": NUM_OR_NULL},
                "R_ci": {"type": ["array", "null"], "items": PAIR_OR_NULL},
            },
        },
    },
}

RUNS = {
    "type": ["array", "null"],
    "items": {
        "type": "object",
        "required": ["lr", "loss"],
        "properties": {
            "lr": {"type": "array", "items": NUM},
            "loss": {"type": "array", "items": NUM_OR_NULL},
        },
    },
}

TRANSFER = {
    "type": ["object", "null"],
    "required": ["by", "reference", "groups", "notes"],
    "properties": {
        "by": {"type": "array", "items": {"type": "string"}},
        "horizon": NUM_OR_NULL,
        "groups": {"type": "array", "items": TRANSFER_GROUP},
        "notes": {"type": "array", "items": {"type": "string"}},
    },
}

JOINT_STATUS = {"enum": ["ok", "edge_lr", "edge_bs", "too_few", "not_convex", "saddle",
                         "bad_fit", "off_grid", "all_diverged"]}
JOINT_OPTIMUM = {
    "type": "object",
    "required": ["group", "scale", "horizon", "lr_opt", "lr_opt_lo", "lr_opt_hi", "bs_opt",
                 "bs_opt_lo", "bs_opt_hi", "loss_opt", "k_lr", "k_lr_bs", "k_bs", "status",
                 "n_runs", "n_diverged"],
    "properties": {
        "group": GROUP,
        **{k: NUM_OR_NULL for k in (
            "scale", "horizon", "lr_opt", "lr_opt_lo", "lr_opt_hi", "bs_opt", "bs_opt_lo",
            "bs_opt_hi", "loss_opt", "loss_opt_lo", "loss_opt_hi", "k_lr", "k_lr_lo", "k_lr_hi",
            "k_lr_bs", "k_lr_bs_lo", "k_lr_bs_hi", "k_bs", "k_bs_lo", "k_bs_hi", "lr_bs_slope",
            "lr_bs_slope_lo", "lr_bs_slope_hi", "k_bs_floor", "k_bs_floor_lo", "k_bs_floor_hi",
            "lr_best", "bs_best", "loss_best", "fit_rmse", "misfit", "lr_window_lo",
            "lr_window_hi", "bs_window_lo", "bs_window_hi", "lr_tried_lo", "lr_tried_hi",
            "bs_tried_lo", "bs_tried_hi", "boot_valid")},
        **{k: {"type": "integer"} for k in ("n_runs", "n_diverged", "n_window", "n_cells",
                                            "n_lrs", "n_bss")},
        "lr_opt_ci_open": {"enum": ["low", "high", "both", None]},
        "bs_opt_ci_open": {"enum": ["low", "high", "both", None]},
        "status": JOINT_STATUS,
    },
}
JOINT_LAW = {
    **LAW,
    "properties": {
        **LAW["properties"],
        "target": {"enum": ["lr_opt", "bs_opt", "k_lr", "lr_bs_slope", "k_bs_floor"]},
        "variables": {"type": "array", "items": {"enum": ["scale", "horizon", "bs"]}},
        "extrapolation": {**EXTRAPOLATION, "properties": {
            **EXTRAPOLATION["properties"], "left_out": {"enum": ["scale", "horizon", "bs"]}}},
        "audit_range": {
            "type": ["object", "null"],
            "properties": {"ratio_tried": PAIR_OR_NULL, "ratio_diverged": NUM_OR_NULL,
                           "bs_ratio_tried": PAIR_OR_NULL},
        },
    },
}
JOINT_EXPONENT = {
    "type": "object",
    "required": ["group", "variable", "fixed_bs", "fixed_bs_ci", "c", "bs_law", "along",
                 "along_ci", "joint", "joint_ci"],
    "properties": {
        "group": GROUP,
        "variable": {"enum": ["scale", "horizon"]},
        **{k: NUM_OR_NULL for k in ("fixed_bs", "c", "bs_law", "along", "joint")},
        **{k: PAIR_OR_NULL for k in ("fixed_bs_ci", "c_ci", "bs_law_ci", "along_ci",
                                     "joint_ci")},
    },
}
JOINT = {
    "type": ["object", "null"],
    "required": ["column", "by", "optima", "laws", "bs_laws", "exponents"],
    "properties": {
        "column": {"type": "string"},
        "by": {"type": "array", "items": {"type": "string"}},
        "optima": {"type": "array", "items": JOINT_OPTIMUM},
        "laws": {"type": "array", "items": JOINT_LAW},
        "bs_laws": {"type": "array", "items": JOINT_LAW},
        "exponents": {"type": "array", "items": JOINT_EXPONENT},
        "notes": {"type": "array", "items": {"type": "string"}},
        "runs": {"type": ["array", "null"], "items": {
            "type": "object", "required": ["lr", "bs", "loss"],
            "properties": {"lr": {"type": "array", "items": NUM},
                           "bs": {"type": "array", "items": NUM},
                           "loss": {"type": "array", "items": NUM_OR_NULL}}}},
    },
}

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "scalefit fit result",
    "type": "object",
    "required": ["version", "input", "optima", "laws", "transfer"],
    "properties": {
        "schema_version": {"type": "integer"},
        "version": {"type": "string"},
        "input": {
            "type": "object",
            "required": ["rows", "columns", "diverged"],
            "properties": {
                "source": {"type": "string"},
                "rows": {"type": "integer"},
                "columns": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
                "by": {"type": "array", "items": {"type": "string"}},
                "diverged": {"type": "integer"},
                "groups": {"type": "integer"},
                "excluded": {"type": "integer"},
                "excluded_status": {"type": "object",
                                    "additionalProperties": {"type": "integer"}},
                "marked_diverged": {"type": "integer"},
                "missing_loss": {"type": "integer"},
                "duplicates": {"type": "integer"},
                "kind": {"enum": ["runs", "optima"]},
                "joint": {"type": "string"},
            },
        },
        "settings": {
            "type": "object",
            "properties": {
                "n_boot": {"type": "integer"},
                "ci": NUM,
                "seed": {"type": "integer"},
                "window": {"type": "integer"},
                "include": {"type": "array", "items": STATUS},
                "diverged_above": NUM_OR_NULL,
                "blowup": NUM_OR_NULL,
                "status_ok": {"type": "array", "items": {"type": "string"}},
                "max_misfit": NUM,
                "floor_gap": NUM,
                "optima_level": NUM,
                "missing_loss": {"enum": ["skip", "diverged"]},
                "keep_duplicates": {"type": "boolean"},
            },
        },
        "optima": {"type": "array", "items": OPTIMUM},
        "laws": {"type": "array", "items": LAW},
        "transfer": TRANSFER,
        "notes": {"type": "array", "items": {"type": "string"}},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "runs": RUNS,
        "joint": JOINT,
    },
}

# What load_fit needs on top of SCHEMA (a saved fit of this version has all of it).
LOADABLE = {
    **SCHEMA,
    "required": ["schema_version", "version", "input", "settings", "optima", "laws", "transfer"],
    "properties": {
        **SCHEMA["properties"],
        "input": {**SCHEMA["properties"]["input"],
                  "required": ["source", "rows", "columns", "by", "diverged", "groups"]},
        "settings": {**SCHEMA["properties"]["settings"], "required": ["n_boot", "ci", "seed"]},
    },
}

_TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
}


def _is_type(value, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def validate(obj, schema: dict | None = None, path: str = "$") -> list[str]:
    """Problems of ``obj`` against ``schema`` (default: the fit result); empty when valid."""
    schema = SCHEMA if schema is None else schema
    errors: list[str] = []
    if "enum" in schema and obj not in schema["enum"]:
        return [f"{path}: {obj!r} is not one of {schema['enum']}"]
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_is_type(obj, t) for t in types):
            return [f"{path}: expected {' or '.join(types)}, got {type(obj).__name__}"]
    if isinstance(obj, float) and obj != obj:
        errors.append(f"{path}: NaN is not valid JSON (use null)")
    if isinstance(obj, dict):
        for key in schema.get("required", []):
            if key not in obj:
                errors.append(f"{path}: missing key {key!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, value in obj.items():
            if key in props:
                errors += validate(value, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                errors += validate(value, extra, f"{path}.{key}")
    if isinstance(obj, list):
        if "minItems" in schema and len(obj) < schema["minItems"]:
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(obj) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, value in enumerate(obj):
                errors += validate(value, schema["items"], f"{path}[{i}]")
    return errors


# ---------------------------------------------------------------- Chinchilla fits, IsoFLOP fits,
# allocations (each numbered on its own; docs/json-schema.md)

CHINCHILLA_SCHEMA_VERSION = 1
CHINCHILLA_READABLE = (1,)
PAIR = {"type": "array", "items": NUM, "minItems": 2, "maxItems": 2}
DRAW_ROWS = {"type": "array", "items": {"type": "array", "items": NUM_OR_NULL}}
CHINCHILLA_PARAMS = ("E", "A", "B", "alpha", "beta")

CHINCHILLA = {
    "title": "scalefit chinchilla result",
    "type": "object",
    "required": ["schema_version", "form", "params", "ci", "ci_level", "n_points", "n_starts",
                 "n_boot", "huber_delta", "objective"],
    "properties": {
        "schema_version": {"type": "integer"},
        "version": {"type": "string"},
        "input": {"type": "object"},
        "form": {"type": "string"},
        "params": {"type": "object", "required": list(CHINCHILLA_PARAMS),
                   "additionalProperties": NUM},
        "ci": {"type": ["object", "null"], "required": list(CHINCHILLA_PARAMS),
               "additionalProperties": PAIR},
        "ci_level": NUM,
        "n_points": {"type": "integer"},
        "n_starts": {"type": "integer"},
        "n_boot": {"type": "integer"},
        "huber_delta": NUM,
        "objective": NUM,
        "range": {"type": "object", "additionalProperties": PAIR},
        "draws": DRAW_ROWS,
    },
}

ISOFLOP_SCHEMA_VERSION = 1
ISOFLOP_PROFILE = {
    "type": "object",
    "required": ["group", "budget", "n_runs", "n_diverged", "N_opt", "N_opt_lo", "N_opt_hi",
                 "D_opt", "tokens_per_param", "loss_opt", "status"],
    "properties": {
        "group": GROUP,
        **{k: NUM_OR_NULL for k in ("budget", "N_opt", "N_opt_lo", "N_opt_hi", "D_opt",
                                    "D_opt_lo", "D_opt_hi", "tokens_per_param",
                                    "tokens_per_param_lo", "tokens_per_param_hi", "loss_opt",
                                    "loss_opt_lo", "loss_opt_hi", "curvature", "N_best",
                                    "D_best", "fit_rmse", "N_window_lo", "N_window_hi",
                                    "boot_valid", "N_tried_lo", "N_tried_hi", "D_tried_lo",
                                    "D_tried_hi", "tokens_per_param_tried_lo",
                                    "tokens_per_param_tried_hi")},
        **{k: {"enum": ["low", "high", "both", None]}
           for k in ("N_opt_ci_open", "D_opt_ci_open", "tokens_per_param_ci_open")},
        **{k: {"type": "integer"} for k in ("n_runs", "n_diverged", "n_levels", "n_window")},
        "status": STATUS,
        "boot_kind": {"enum": ["runs", "parametric"]},
    },
}
ISOFLOP_LAW = {
    "type": "object",
    "required": ["group", "target", "form", "variables", "params", "ci", "n_points", "range"],
    "properties": {
        **LAW["properties"],
        "target": {"enum": ["N_opt", "D_opt", "tokens_per_param", "loss_opt"]},
        "variables": {"type": "array", "items": {"enum": ["C"]}},
        "extrapolation": {**EXTRAPOLATION, "properties": {**EXTRAPOLATION["properties"],
                                                          "left_out": {"enum": ["C"]}}},
    },
}
ISOFLOP = {
    "title": "scalefit isoflop result",
    "type": "object",
    "required": ["schema_version", "version", "input", "settings", "profiles", "laws"],
    "properties": {
        "schema_version": {"type": "integer"},
        "version": {"type": "string"},
        "input": {
            "type": "object",
            "required": ["source", "rows", "columns", "by", "diverged", "profiles", "budgets",
                         "tokens_from"],
            "properties": {
                "source": {"type": "string"},
                "rows": {"type": "integer"},
                "columns": {"type": "object",
                            "additionalProperties": {"type": ["string", "null"]}},
                "by": {"type": "array", "items": {"type": "string"}},
                "diverged": {"type": "integer"},
                "profiles": {"type": "integer"},
                "budgets": {"type": "string"},
                "tokens_from": {"enum": ["6ND", "interpolated"]},
            },
        },
        "settings": {"type": "object", "required": ["n_boot", "ci", "seed", "window"],
                     "properties": {"n_boot": {"type": "integer"}, "ci": NUM,
                                    "seed": {"type": "integer"}, "window": {"type": "integer"},
                                    "include": {"type": "array", "items": STATUS},
                                    "budget_tol": NUM}},
        "profiles": {"type": "array", "items": ISOFLOP_PROFILE},
        "laws": {"type": "array", "items": ISOFLOP_LAW},
        "notes": {"type": "array", "items": {"type": "string"}},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "runs": {"type": ["array", "null"], "items": {
            "type": "object", "required": ["N", "loss"],
            "properties": {"N": {"type": "array", "items": NUM},
                           "loss": {"type": "array", "items": NUM_OR_NULL}}}},
    },
}

ALLOCATION_ROW = {
    "type": "object",
    "required": ["C", "N_opt", "N_opt_ci", "D_opt", "D_opt_ci", "tokens_per_param",
                 "tokens_per_param_ci", "loss", "loss_ci", "extrapolation"],
    "properties": {
        **{k: NUM_OR_NULL for k in ("N_opt", "D_opt", "tokens_per_param", "loss")},
        "C": NUM,
        **{k: PAIR_OR_NULL for k in ("N_opt_ci", "D_opt_ci", "tokens_per_param_ci",
                                     "loss_ci")},
        "extrapolation": {"type": "array", "items": {"type": "string"}},
    },
}
ALLOCATION = {
    "title": "scalefit allocation",
    "type": "object",
    "required": ["method", "law", "ci_level", "a", "a_ci", "b", "b_ci", "data_range",
                 "budgets"],
    "properties": {
        "method": {"enum": ["chinchilla", "isoflop"]},
        "law": {"type": "string"},
        "group": {"type": ["object", "null"]},
        "ci_level": NUM,
        "a": NUM_OR_NULL, "a_ci": PAIR_OR_NULL, "b": NUM_OR_NULL, "b_ci": PAIR_OR_NULL,
        "data_range": {"type": ["object", "null"], "additionalProperties": PAIR},
        "interval_source": {"type": ["string", "null"]},
        "budgets": {"type": "array", "items": ALLOCATION_ROW},
        "draws": {"type": "object", "properties": {
            **{k: DRAW_ROWS for k in ("ln_N", "ln_D", "loss")},
            **{k: {"type": "array", "items": NUM_OR_NULL} for k in ("a", "b")}}},
    },
}
