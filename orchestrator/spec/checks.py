"""Typed reads of spec values that collect issues instead of raising.

A spec with five mistakes should be fixed in one round, so every reader here
records a :class:`~orchestrator.errors.SpecIssue` (file:line:col, field path,
a message that says what was expected and what was found) and returns None;
the caller carries on with a default and the loader raises one
:class:`~orchestrator.errors.SpecError` with every issue at the end.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence

from orchestrator.errors import SpecIssue
from orchestrator.spec.units import parse_duration, parse_size
from orchestrator.spec.yaml_nodes import YMap, YNode, YScalar, YSeq

_MAX_SHOWN = 60

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
#: ``package.module:function``, as ``python:`` and custom planners name user code
PYTHON_REF = re.compile(rf"{_IDENT}(?:\.{_IDENT})*:{_IDENT}(?:\.{_IDENT})*")


def suggest(word: str, choices: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def one_of(choices: Sequence[str]) -> str:
    return ", ".join(choices)


def _label(path: str) -> str:
    """The last name of a field path: ``jobs[0].output.mode`` -> ``mode``."""
    return path.rsplit(".", 1)[-1].split("[", 1)[0] or "value"


class Checker:
    """Collects the issues of one spec file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[SpecIssue] = []
        # Nodes whose value must never appear in a message (secrets).
        self.hidden: set[int] = set()
        # While reading job i, the "jobs[i]" prefix: an issue in a value the job
        # inherited is reported at "defaults..." (and de-duplicated across jobs).
        self.job_prefix = ""

    # -- reporting ---------------------------------------------------------

    def add(self, node: YNode | None, path: str, message: str) -> None:
        prefix = self.job_prefix
        if node is not None and node.from_defaults and prefix and path.startswith(prefix):
            path = "defaults" + path[len(self.job_prefix) :]
        line = node.line if node is not None else None
        column = node.column if node is not None else None
        self.issues.append(SpecIssue(self.file, line, column, path, message))

    def sorted_issues(self) -> list[SpecIssue]:
        """Issues de-duplicated and in file order (issues without a line first)."""
        unique = list(dict.fromkeys(self.issues))
        return sorted(unique, key=lambda i: (i.line or 0, i.column or 0))

    def describe(self, node: YNode) -> str:
        """What a value is, for "expected X, got Y" (secrets are not shown)."""
        if isinstance(node, YMap):
            return "a mapping"
        if isinstance(node, YSeq):
            return "a list"
        assert isinstance(node, YScalar)
        value = node.value
        if value is None:
            return "null"
        if isinstance(value, bool):
            return f"boolean {str(value).lower()}"
        if id(node) in self.hidden:
            return "a value that is not shown (it looks like a secret)"
        if isinstance(value, int):
            return f"integer {value}"
        if isinstance(value, float):
            return f"number {value}"
        shown = value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 3] + "..."
        return f"string {shown!r}"

    def shown(self, node: YNode) -> str:
        """The value of a scalar for a message, or a placeholder for a secret."""
        if not isinstance(node, YScalar):
            return self.describe(node)
        if id(node) in self.hidden:
            return "(hidden)"
        text = str(node.value)
        return repr(text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "...")

    def reported(self, node: YNode) -> bool:
        """True when ``node`` already has its issue (bad tag, secret): say nothing more."""
        return node.invalid or id(node) in self.hidden

    def expected(self, node: YNode, path: str, what: str) -> None:
        self.add(node, path, f"expected {what}, got {self.describe(node)}")

    # -- structure ---------------------------------------------------------

    def keys(
        self, node: YMap, path: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> None:
        """Unknown keys (with the nearest allowed one) and missing required keys."""
        for key, (key_node, _) in node.entries.items():
            if key not in allowed and not self.reported(key_node):
                where = f"{path}.{key}" if path else key
                self.add(key_node, where, f"unknown key '{key}'{suggest(key, allowed)}")
        for key in required:
            if key not in node.entries:
                self.add(node, path, f"missing required key '{key}'")

    def mapping(self, node: YNode, path: str) -> YMap | None:
        if isinstance(node, YMap):
            return node
        if not self.reported(node):
            self.expected(node, path, "a mapping")
        return None

    # -- scalars -----------------------------------------------------------

    def _scalar(self, node: YNode, path: str, what: str) -> YScalar | None:
        if self.reported(node):
            return None
        if isinstance(node, YScalar) and node.value is not None:
            return node
        self.expected(node, path, what)
        return None

    def string(self, node: YNode, path: str) -> str | None:
        """A non-empty string."""
        scalar = self._scalar(node, path, "a string")
        if scalar is None:
            return None
        if not isinstance(scalar.value, str):
            self.expected(node, path, "a string")
            return None
        if not scalar.value.strip():
            self.add(node, path, "must not be empty")
            return None
        return scalar.value

    def integer(self, node: YNode, path: str, minimum: int | None = None) -> int | None:
        scalar = self._scalar(node, path, "an integer")
        if scalar is None:
            return None
        value = scalar.value
        if isinstance(value, bool) or not isinstance(value, int):
            self.expected(node, path, "an integer")
            return None
        if minimum is not None and value < minimum:
            rule = "positive" if minimum == 1 else f"at least {minimum}"
            self.add(node, path, f"must be {rule}, got {value}")
            return None
        return value

    def boolean(self, node: YNode, path: str) -> bool | None:
        scalar = self._scalar(node, path, "true or false")
        if scalar is None:
            return None
        if not isinstance(scalar.value, bool):
            self.expected(node, path, "true or false")
            return None
        return scalar.value

    def choice(
        self, node: YNode, path: str, allowed: Sequence[str], *, ignore_case: bool = False
    ) -> str | None:
        """One of ``allowed``; the message lists them and suggests the nearest."""
        what = f"one of {one_of(allowed)}"
        scalar = self._scalar(node, path, what)
        if scalar is None:
            return None
        if not isinstance(scalar.value, str):
            self.expected(node, path, what)
            return None
        value = scalar.value.upper() if ignore_case else scalar.value
        if value in allowed:
            return value
        self.add(
            node,
            path,
            f"invalid {_label(path)} {self.shown(scalar)}: use one of {one_of(allowed)}"
            + suggest(value, allowed),
        )
        return None

    def duration(self, node: YNode, path: str, *, positive: bool = True) -> float | None:
        """Seconds, from ``30s``/``5m``/``1h30m``/a number."""
        what = "a duration (e.g. 30s, 5m, 2h)"
        scalar = self._scalar(node, path, what)
        if scalar is None:
            return None
        value = scalar.value
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.expected(node, path, what)
            return None
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            hint = str(exc).split(": ", 1)[-1]
            self.add(node, path, f"invalid duration {self.shown(scalar)}: {hint}")
            return None
        if positive and seconds <= 0:
            self.add(node, path, "must be a positive duration, got 0")
            return None
        return seconds

    def size(self, node: YNode, path: str) -> int | None:
        """A positive number of bytes, from ``64MiB``/``1GB``/a number."""
        what = "a size (e.g. 64MiB, 1GB)"
        scalar = self._scalar(node, path, what)
        if scalar is None:
            return None
        value = scalar.value
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.expected(node, path, what)
            return None
        try:
            nbytes = parse_size(value)
        except ValueError as exc:
            hint = str(exc).split(": ", 1)[-1]
            self.add(node, path, f"invalid size {self.shown(scalar)}: {hint}")
            return None
        if nbytes <= 0:
            self.add(node, path, f"must be a positive size, got {nbytes} bytes")
            return None
        return nbytes

    def string_list(self, node: YNode, path: str) -> list[tuple[str, YNode]] | None:
        """A list of non-empty strings, each with its node (for later checks)."""
        if self.reported(node):
            return None
        if not isinstance(node, YSeq):
            self.expected(node, path, "a list of strings")
            return None
        result: list[tuple[str, YNode]] = []
        for i, item in enumerate(node.items):
            text = self.string(item, f"{path}[{i}]")
            if text is not None:
                result.append((text, item))
        return result


def column_list(
    c: Checker, node: YNode | None, path: str, *, distinct: bool = False
) -> tuple[str, ...]:
    """Column names given as one name or a non-empty list (``partition_by``,
    ``sort_by``); ``distinct``: a name given twice is an error too."""
    if node is None:
        return ()
    if isinstance(node, YScalar) and isinstance(node.value, str):
        return (node.value,)
    items = c.string_list(node, path)
    if items is not None and not items:
        c.add(node, path, "must name at least one column")
    names = [text for text, _ in items or ()]
    if distinct and len(set(names)) != len(names):
        c.add(node, path, "a column is named twice")
    return tuple(names)
