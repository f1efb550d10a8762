"""The params of an ``identity_match`` job, read once into a typed config.

One reader for both sides: the spec check (``spec/identity_params.py``) runs it
at validate and maps each error's key path back to its YAML line, and the
processor runs it again in every worker on the same (already valid) params.
An error is a :class:`ConfigError` carrying the path of the offending key
(``("fields", "dob", "compare")``) so the spec can say file:line.

Blocking terms are a declared field (its standardized value) or a field with a
derivation suffix: ``last_name_soundex``, ``_metaphone``, ``_nysiis``,
``_match_rating``, ``dob_year``, ``first_name_prefix3``. ``{last_name: swapped}``
pairs a field with the term before it, order-insensitively (the key holds the
two values sorted), so a record with first and last name swapped lands in the
same block.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import JobctlError
from orchestrator.matching.comparisons import KINDS, Comparison, ComparisonError

MODES = ("dedupe", "link")
DERIVATIONS = ("soundex", "metaphone", "nysiis", "match_rating", "year")
_PREFIX = re.compile(r"prefix([1-9][0-9]?)")
KEYS = (
    "mode",
    "id",
    "datasets",
    "fields",
    "blocking",
    "threshold",
    "model",
    "max_block",
    "random_pairs",
    "split_bridges",
)
#: a dataset's name: it prefixes its records' ids in link mode (``crm/17``)
_DATASET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
FIELD_KEYS = ("standardize", "compare", "term_frequency")
DEFAULT_MAX_BLOCK = 2000
DEFAULT_RANDOM_PAIRS = 200_000

Path = tuple[str | int, ...]


class ConfigError(JobctlError, ValueError):
    """A bad identity_match param; ``path`` is where under ``params`` it is."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message

    def __str__(self) -> str:
        where = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in self.path)
        return f"params.{where}: {self.message}" if where else f"params: {self.message}"


@dataclass(frozen=True)
class FieldConfig:
    name: str
    steps: tuple[Any, ...]  # the spec's step entries (names or {name: options})
    comparison: Comparison
    term_frequency: bool = False


@dataclass(frozen=True)
class Term:
    """One part of a blocking key: a field, maybe derived, maybe swappable with the previous."""

    field: str
    derive: str | None = None  # soundex, ..., year, prefixN
    swapped: bool = False

    @property
    def label(self) -> str:
        return f"{self.field}_{self.derive}" if self.derive else self.field


@dataclass(frozen=True)
class MatchConfig:
    mode: str
    id: str
    fields: tuple[FieldConfig, ...]
    rules: tuple[tuple[Term, ...], ...]
    threshold: float | str = "auto"
    #: link mode: each dataset's name and the path glob of its files, in order
    datasets: tuple[tuple[str, str], ...] = ()
    model: str | None = None
    max_block: int = DEFAULT_MAX_BLOCK
    random_pairs: int = DEFAULT_RANDOM_PAIRS
    #: drop weak bridge edges inside clusters (processors/identity/bridges.py)
    split_bridges: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def linking(self) -> bool:
        """Link mode: only pairs of records from different datasets are compared."""
        return self.mode == "link"

    def dataset_of(self, path: str) -> int | None:
        """The index of the first dataset whose glob matches ``path`` (None: none does)."""
        import fnmatch

        for index, (_, pattern) in enumerate(self.datasets):
            if fnmatch.fnmatchcase(path, pattern):
                return index
        return None

    def rule_label(self, index: int) -> str:
        return "+".join(t.label + ("~" if t.swapped else "") for t in self.rules[index])


def _suggest(word: str, choices: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_config(params: Mapping[str, Any]) -> MatchConfig:
    """The typed config of ``params``; raises the first :class:`ConfigError`."""
    errors = collect_errors(params)
    if errors:
        raise errors[0]
    return _build(params)


def collect_errors(params: Mapping[str, Any]) -> list[ConfigError]:
    """Every problem of ``params`` (a spec with five mistakes is fixed in one round)."""
    errors: list[ConfigError] = []
    if not isinstance(params, Mapping):
        return [ConfigError((), "identity_match needs params: a mapping (mode, id, fields, ...)")]
    for key in params:
        if key not in KEYS:
            errors.append(ConfigError((str(key),), f"unknown key '{key}'{_suggest(key, KEYS)}"))
    mode = params.get("mode", "dedupe")
    if mode not in MODES:
        errors.append(ConfigError(("mode",), f"mode must be one of {', '.join(MODES)}"))
    errors.extend(_dataset_errors(mode, params.get("datasets")))
    if not isinstance(params.get("id"), str) or not params.get("id"):
        errors.append(ConfigError(("id",), "id must name the column that identifies a record"))
    fields = params.get("fields")
    names: list[str] = []
    if not isinstance(fields, Mapping) or not fields:
        errors.append(
            ConfigError(
                ("fields",),
                "fields must map at least one column to {standardize, compare, term_frequency}",
            )
        )
    else:
        for name, body in fields.items():
            names.append(str(name))
            errors.extend(_field_errors(str(name), body))
    blocking = params.get("blocking")
    if not isinstance(blocking, list) or not blocking:
        errors.append(
            ConfigError(
                ("blocking",),
                "blocking needs at least one rule, e.g. [[last_name, dob]]: "
                "without one every pair of records would be compared",
            )
        )
    else:
        for index, rule in enumerate(blocking):
            errors.extend(_rule_errors(index, rule, names))
    threshold = params.get("threshold", "auto")
    if threshold != "auto" and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0.0 < float(threshold) < 1.0
    ):
        errors.append(
            ConfigError(("threshold",), "threshold must be 'auto' or a probability in (0, 1)")
        )
    if "model" in params and (not isinstance(params["model"], str) or not params["model"]):
        errors.append(ConfigError(("model",), "model must be the path of a model.json"))
    for key, minimum in (("max_block", 2), ("random_pairs", 1000)):
        value = params.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < minimum
        ):
            errors.append(ConfigError((key,), f"{key} must be an integer >= {minimum}"))
    if not isinstance(params.get("split_bridges", False), bool):
        errors.append(ConfigError(("split_bridges",), "split_bridges must be true or false"))
    return errors


def _dataset_errors(mode: Any, datasets: Any) -> list[ConfigError]:
    """``datasets`` (link mode only): at least two names, each with a path glob."""
    if mode != "link":
        if datasets is not None:
            return [ConfigError(("datasets",), "datasets are for mode: link (remove it)")]
        return []
    if not isinstance(datasets, Mapping) or len(datasets) < 2:
        return [
            ConfigError(
                ("datasets",) if datasets is not None else ("mode",),
                "mode: link needs datasets: at least two names, each with the files it holds "
                "(e.g. {crm: data/crm/*.parquet, billing: data/billing.csv})",
            )
        ]
    errors = []
    for name, pattern in datasets.items():
        if not isinstance(name, str) or not _DATASET_NAME.fullmatch(name):
            errors.append(
                ConfigError(("datasets", str(name)), "a dataset name is letters, digits, _ . -")
            )
        elif not isinstance(pattern, str) or not pattern:
            errors.append(
                ConfigError(("datasets", name), "a dataset is the path or glob of its files")
            )
    return errors


def _field_errors(name: str, body: Any) -> list[ConfigError]:
    from orchestrator.standardize import StandardizeError, parse_steps

    where: Path = ("fields", name)
    if not isinstance(body, Mapping):
        return [ConfigError(where, "a field is a mapping {standardize, compare, term_frequency}")]
    errors = [
        ConfigError((*where, str(k)), f"unknown key '{k}'{_suggest(str(k), FIELD_KEYS)}")
        for k in body
        if k not in FIELD_KEYS
    ]
    steps = body.get("standardize", [])
    steps = [steps] if isinstance(steps, str) else steps
    if not isinstance(steps, list):
        errors.append(ConfigError((*where, "standardize"), "standardize must be a list of steps"))
    else:
        for index, step in enumerate(steps):
            try:
                parse_steps([step])
            except StandardizeError as exc:
                errors.append(ConfigError((*where, "standardize", index), str(exc)))
    if "compare" not in body:
        kinds = ", ".join(KINDS)
        errors.append(ConfigError(where, f"missing required key 'compare' (one of {kinds})"))
    else:
        try:
            comparison_of(body["compare"])
        except ComparisonError as exc:
            errors.append(ConfigError((*where, "compare"), str(exc)))
    tf = body.get("term_frequency", False)
    if not isinstance(tf, bool):
        errors.append(ConfigError((*where, "term_frequency"), "term_frequency must be true/false"))
    return errors


def comparison_of(value: Any) -> Comparison:
    """``jaro_winkler`` or ``{kind: jaro_winkler, thresholds: [0.9, 0.95]}``."""
    if isinstance(value, str):
        return Comparison(value)
    if isinstance(value, Mapping) and set(value) <= {"kind", "thresholds"} and "kind" in value:
        thresholds = value.get("thresholds") or ()
        if not isinstance(thresholds, list) or not all(
            isinstance(t, int | float) and not isinstance(t, bool) for t in thresholds
        ):
            raise ComparisonError("thresholds must be a list of numbers")
        return Comparison(str(value["kind"]), tuple(float(t) for t in thresholds))
    raise ComparisonError(
        f"compare is a comparison name ({', '.join(KINDS)}) or {{kind, thresholds}}"
    )


def _rule_errors(index: int, rule: Any, names: Sequence[str]) -> list[ConfigError]:
    where: Path = ("blocking", index)
    if not isinstance(rule, list) or not rule:
        return [ConfigError(where, "a blocking rule is a non-empty list of fields or keys")]
    errors = []
    for position, item in enumerate(rule):
        try:
            term = term_of(item, names)
        except ConfigError as exc:
            errors.append(ConfigError((*where, position), exc.message))
            continue
        if term.swapped and position == 0:
            errors.append(
                ConfigError((*where, position), "'swapped' pairs a field with the one before it")
            )
    return errors


def term_of(item: Any, names: Sequence[str]) -> Term:
    """A blocking term from its spec form (see the module docstring)."""
    swapped = False
    if isinstance(item, Mapping) and len(item) == 1:
        ((key, flag),) = item.items()
        if flag != "swapped":
            raise ConfigError((), f"write {{{key}: swapped}}, got {{{key}: {flag}}}")
        item, swapped = key, True
    if not isinstance(item, str):
        raise ConfigError((), "a blocking term is a field name, a derived key or {field: swapped}")
    if item in names:
        return Term(item, None, swapped)
    for name in sorted(names, key=len, reverse=True):
        if item.startswith(name + "_"):
            derive = item[len(name) + 1 :]
            if derive in DERIVATIONS or _PREFIX.fullmatch(derive):
                return Term(name, derive, swapped)
    known = [*names, *(f"{n}_{d}" for n in names for d in DERIVATIONS)]
    raise ConfigError(
        (),
        f"unknown blocking term '{item}'{_suggest(item, known)}: use a declared field, or a "
        f"field with _{', _'.join(DERIVATIONS)} or _prefixN",
    )


def _build(params: Mapping[str, Any]) -> MatchConfig:
    fields = []
    for name, body in params["fields"].items():
        steps = body.get("standardize", [])
        fields.append(
            FieldConfig(
                str(name),
                tuple([steps] if isinstance(steps, str) else steps),
                comparison_of(body["compare"]),
                bool(body.get("term_frequency", False)),
            )
        )
    names = [f.name for f in fields]
    rules = tuple(tuple(term_of(item, names) for item in rule) for rule in params["blocking"])
    threshold = params.get("threshold", "auto")
    return MatchConfig(
        mode=str(params.get("mode", "dedupe")),
        id=str(params["id"]),
        fields=tuple(fields),
        rules=rules,
        threshold=threshold if threshold == "auto" else float(threshold),
        datasets=tuple((str(k), str(v)) for k, v in (params.get("datasets") or {}).items()),
        model=params.get("model"),
        max_block=int(params.get("max_block") or DEFAULT_MAX_BLOCK),
        random_pairs=int(params.get("random_pairs") or DEFAULT_RANDOM_PAIRS),
        split_bridges=bool(params.get("split_bridges", False)),
    )
