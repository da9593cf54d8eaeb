"""What the columns of a table of runs are called: the four roles (``scale``,
``horizon``, ``lr``, ``loss``) and their aliases, the run-status column and its words, and
the rules that match names to roles (canonical name, alias tiers, then a tracker's
namespaced names such as ``config.lr``) and ``--by`` names to columns."""

from __future__ import annotations

import re

from .errors import ScalefitInputError
from .render.format import name_list, quote

ROLES = ("scale", "horizon", "lr", "loss")

# Aliases per role, in tiers: a column in an earlier tier wins over later tiers; two
# columns in the same (winning) tier are ambiguous and must be chosen explicitly.
# Names are compared after normalization (lower case, runs of non-alphanumerics -> "_").
ALIASES: dict[str, list[list[str]]] = {
    "scale": [
        ["scale"],
        ["n", "params", "n_params", "num_params", "nparams", "n_parameters", "parameters",
         "param_count", "model_size", "non_embedding_params", "n_params_non_embedding"],
        ["width", "d_model", "hidden_size", "n_embd", "model_width"],
    ],
    "horizon": [
        ["horizon"],
        ["d", "tokens", "horizon_tokens", "n_tokens", "num_tokens", "tokens_seen",
         "training_tokens", "total_tokens", "data_size", "dataset_size"],
        ["train_tokens"],
    ],
    "lr": [
        ["lr"],
        ["learning_rate", "peak_lr", "max_lr", "base_lr", "lr_peak", "lr_max", "learningrate",
         "peak_learning_rate"],
    ],
    "loss": [
        ["loss"],
        ["val_loss", "final_loss", "validation_loss", "eval_loss", "valid_loss", "test_loss",
         "final_val_loss", "val_loss_final", "loss_final"],
        ["train_loss", "final_train_loss"],
    ],
}

STATUS_COLUMNS = ("status", "state", "run_status")
# Status values (normalized like column names): a finished run's loss is final; a
# diverged run's loss is not used and the run counts as diverged; any other status
# (running, killed, crashed, failed, preempted, error, timeout, W&B's states, ...) is a
# run that did not finish: excluded, counted and named in a note (``status_ok`` adds
# values to the finished set). An empty status counts as finished.
FINISHED_STATUSES = frozenset(
    {"ok", "finished", "completed", "complete", "success", "succeeded", "successful", "done"}
)
DIVERGED_STATUSES = frozenset(
    {"diverged", "divergent", "diverge", "diverging", "nan", "inf", "nan_loss", "loss_nan",
     "exploded", "unstable", "blowup", "blow_up", "blown_up", "blew_up", "overflow"}
)

def normalize_name(name: object) -> str:
    """Lower-case a column name and fold runs of non-alphanumerics into ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def resolve_columns(
    columns: list[str], explicit: dict[str, str | None], src: str,
    required: tuple[str, ...] = ("lr", "loss"),
) -> dict[str, str | None]:
    """Map each role to one column: explicit choice, canonical name, then alias tiers.

    Raises ``ScalefitInputError`` when a ``required`` role has no column.
    """
    by_norm: dict[str, list[str]] = {}
    for c in columns:
        by_norm.setdefault(normalize_name(c), []).append(c)
    given = {r: c for r, c in explicit.items() if c}
    for role, chosen in given.items():
        if chosen not in columns:
            import difflib

            close = difflib.get_close_matches(chosen, [str(c) for c in columns], n=2,
                                              cutoff=0.6)
            hint = (f"did you mean {' or '.join(quote(c, 60) for c in close)}?" if close
                    else f"columns are: {name_list(columns)}")
            raise ScalefitInputError(
                f"{src}: column {quote(chosen, 60)} (given for {role}) not found; {hint}")
        twice = [r for r, c in given.items() if c == chosen and r != role]
        if twice:
            raise ScalefitInputError(
                f"{src}: column {chosen!r} is given for both {role} and {twice[0]}; one column "
                "cannot play two roles")
    out: dict[str, str | None] = {}
    for role in ROLES:
        if role in given:
            out[role] = given[role]
            continue
        out[role] = None
        # Exact names first; only when none matches, namespaced ones (config.lr, eval/loss).
        for names in (by_norm, _by_namespaced(columns)):
            out[role] = _find_role(role, names, set(out.values()) | set(given.values()), src)
            if out[role] is not None:
                break
    for role in required:
        if out[role] is None:
            names = ", ".join(a for tier in ALIASES[role] for a in tier)
            one = (" (one column only: is the table separated by something other than commas? "
                   "',', tab, ';' and '|' are read)") if len(columns) == 1 else ""
            raise ScalefitInputError(
                f"{src}: no {role} column found (looked for {names}; the columns are "
                f"{name_list(columns)}){one}; name it with --{role} COL"
            )
    return out


def _find_role(role: str, by_name: dict[str, list[str]], used: set, src: str) -> str | None:
    """The column of ``role`` by its alias tiers in ``by_name`` (name -> columns); two
    columns in the first tier that has any is an error naming both."""
    for tier in ALIASES.get(role, []):
        hits = [c for alias in tier for c in by_name.get(alias, []) if c not in used]
        if len(hits) > 1:
            raise ScalefitInputError(
                f"{src}: columns {name_list(hits, quoted=True)} all look like the {role}; "
                f"choose one with --{role} COL (or {role}=... in Python)")
        if hits:
            return hits[0]
    return None


def last_part(name: object) -> str:
    """The normalized last part of a name under a namespace (``config.seed`` -> ``seed``;
    a name without ``.`` or ``/`` is itself)."""
    return normalize_name(re.split(r"[./]", str(name))[-1])


def namespaced_alias(name: object, aliases) -> str | None:
    """The longest proper trailing part of a namespaced name (split at ``.`` and ``/``,
    joined with ``_``) that is in ``aliases``: ``summary.eval/loss`` -> ``eval_loss``,
    ``config.lr`` -> ``lr``; None for a name without a namespace or without such a part."""
    parts = [p for p in (normalize_name(x) for x in re.split(r"[./]", str(name))) if p]
    for i in range(1, len(parts)):  # the longest proper suffix first
        if "_".join(parts[i:]) in aliases:
            return "_".join(parts[i:])
    return None


def _by_namespaced(columns: list[str]) -> dict[str, list[str]]:
    """Columns under a namespace, as experiment trackers export them (``config.lr``,
    ``config.optimizer.lr``, ``summary.eval/loss``), keyed by ``namespaced_alias``."""
    aliases = {a for tiers in ALIASES.values() for tier in tiers for a in tier}
    out: dict[str, list[str]] = {}
    for c in columns:
        name = namespaced_alias(c, aliases)
        if name is not None:
            out.setdefault(name, []).append(c)
    return out


def by_column(name: str, columns, src: str) -> str:
    """The column a --by name means: itself, else the one column equal to it ignoring case
    and spaces/underscores/dashes (as role names are matched); else a one-line error with
    the closest names."""
    columns = [str(c) for c in columns]
    if name in columns:
        return name
    same = [c for c in columns if normalize_name(c) == normalize_name(name)]
    if len(same) == 1:
        return same[0]
    import difflib

    close = difflib.get_close_matches(name.lower(), [c.lower() for c in columns], n=3,
                                      cutoff=0.6)
    close = [next(c for c in columns if c.lower() == x) for x in close]
    hint = (f"; did you mean {' or '.join(quote(c, 60) for c in close)}?" if close else
            f"; columns are: {name_list(columns)}")
    raise ScalefitInputError(f"{src}: group column {quote(name, 60)} (--by) not found{hint}")
