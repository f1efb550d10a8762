"""Line-numbered YAML with ``safe_load`` semantics and bounded expansion.

``yaml.safe_load`` returns plain data and forgets where each value came from,
but a spec error must name ``file:line:col``. So we run only PyYAML's compose
step (SafeLoader's scanner, parser and resolver: no object construction) and
build our own small tree, in which every value remembers its position.

Building the tree ourselves is also where the safety rules live:

* only the standard tags of ``safe_load`` are accepted (``!!python/...`` and
  application tags are refused at their line);
* anchors/aliases are bounded (:data:`MAX_ALIASES` alias uses and
  :data:`MAX_NODES` nodes after expansion), so a billion-laughs document
  fails fast instead of eating memory, and a recursive alias is refused;
* a key given twice in one mapping is an error (``safe_load`` silently keeps
  the last one);
* mapping keys are kept as the text written (``on:`` is the key ``"on"``,
  not ``True``): specs are configuration, their keys are names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

MAX_ALIASES = 1_000
MAX_NODES = 100_000

Scalar = str | int | float | bool | None

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")}
_MERGE_TAG = f"{_TAG}merge"
_VALUE_TAG = f"{_TAG}value"  # the resolver's tag for a plain "=": read as text
_MAP_TAG = f"{_TAG}map"
_SEQ_TAG = f"{_TAG}seq"


class YamlProblem(Exception):
    """A problem that stops reading the document (syntax error, alias bomb...)."""

    def __init__(self, message: str, line: int | None, column: int | None, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.field = field


@dataclass(eq=False)
class YNode:
    """A value and where it was written (1-based line and column)."""

    line: int
    column: int
    # Set on every node of the ``defaults`` section, so an error in a value a
    # job inherited is reported once, at ``defaults.*``, not once per job.
    from_defaults: bool = field(default=False, kw_only=True)
    # Already reported while reading the YAML (bad tag...): checks skip it.
    invalid: bool = field(default=False, kw_only=True)


@dataclass(eq=False)
class YScalar(YNode):
    value: Scalar


@dataclass(eq=False)
class YSeq(YNode):
    items: list[YNode]


@dataclass(eq=False)
class YMap(YNode):
    """A mapping; ``entries`` maps the key text to (key node, value node)."""

    entries: dict[str, tuple[YScalar, YNode]]

    def get(self, key: str) -> YNode | None:
        entry = self.entries.get(key)
        return entry[1] if entry else None

    def key_node(self, key: str) -> YScalar:
        return self.entries[key][0]


class _AliasBudget(Composer):
    """A composer that refuses documents with too many alias uses.

    Composing never expands aliases (an alias is the same node object again),
    so this bound plus the node budget of :class:`_Builder` caps all work.
    """

    aliases_seen = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        events: Any = self  # the parser this is mixed with provides the events
        if events.check_event(yaml.AliasEvent):
            self.aliases_seen += 1
            if self.aliases_seen > MAX_ALIASES:
                mark = events.peek_event().start_mark
                raise YamlProblem(
                    f"more than {MAX_ALIASES} aliases: refusing to expand (alias bomb?)",
                    mark.line + 1,
                    mark.column + 1,
                )
        return super().compose_node(parent, index)


class _PyLoader(Reader, Scanner, Parser, _AliasBudget, Resolver):
    """SafeLoader's reading stages (no constructor), in pure Python."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _AliasBudget.__init__(self)
        Resolver.__init__(self)


_Loader: Any
try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    _Loader = _PyLoader
else:

    class _CLoader(_AliasBudget, CParser, Resolver):
        """libyaml's parser (about 15x faster) under our composer and the safe resolver."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _AliasBudget.__init__(self)
            Resolver.__init__(self)

    _Loader = _CLoader


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Builder:
    """Turns composed PyYAML nodes into :class:`YNode` trees, within budgets."""

    def __init__(self) -> None:
        self.count = 0
        self.problems: list[YamlProblem] = []
        self._active: set[int] = set()  # nodes being expanded: detects recursive aliases
        self._stack: list[tuple[int, int, str]] = []  # (line, column, path) being built
        self._constructor = yaml.constructor.SafeConstructor()

    def _problem(self, node: yaml.Node, path: str, message: str) -> YScalar:
        mark = node.start_mark
        self.problems.append(YamlProblem(message, mark.line + 1, mark.column + 1, path))
        return YScalar(mark.line + 1, mark.column + 1, None, invalid=True)

    def build(self, node: yaml.Node, path: str) -> YNode:
        self.count += 1
        mark = node.start_mark
        if self.count > MAX_NODES:
            # Name the top-level entry being expanded, not a node deep inside it.
            line, column, where = self._stack[1] if len(self._stack) > 1 else (0, 0, path)
            raise YamlProblem(
                f"the document expands to more than {MAX_NODES} values (alias bomb?)",
                line or mark.line + 1,
                column or mark.column + 1,
                where,
            )
        if id(node) in self._active:
            raise YamlProblem("recursive alias", mark.line + 1, mark.column + 1, path)
        line, column = mark.line + 1, mark.column + 1
        tag = node.tag or ""
        if tag.startswith("tag:yaml.org,2002:python/") or tag.startswith("!!python"):
            return self._problem(
                node,
                path,
                f"tag {_short_tag(tag)} is not allowed: specs are read with safe_load "
                "and never create Python objects",
            )
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path, line, column)
        self._active.add(id(node))
        self._stack.append((line, column, path))
        try:
            if isinstance(node, yaml.SequenceNode):
                if tag != _SEQ_TAG:
                    return self._problem(node, path, f"unsupported tag {_short_tag(tag)}")
                items = [self.build(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
                return YSeq(line, column, items)
            if isinstance(node, yaml.MappingNode):
                if tag != _MAP_TAG:
                    return self._problem(node, path, f"unsupported tag {_short_tag(tag)}")
                return self._mapping(node, path, line, column)
        finally:
            self._active.discard(id(node))
            self._stack.pop()
        return self._problem(node, path, "unsupported YAML node")

    def _scalar(self, node: yaml.ScalarNode, path: str, line: int, column: int) -> YNode:
        tag = node.tag or ""
        if tag not in _SCALAR_TAGS and tag not in (_MERGE_TAG, _VALUE_TAG):
            return self._problem(node, path, f"unsupported tag {_short_tag(tag)}")
        kind = tag[len(_TAG) :]
        try:
            value: Scalar
            if kind == "int":
                value = self._constructor.construct_yaml_int(node)
            elif kind == "float":
                value = self._constructor.construct_yaml_float(node)
            elif kind == "bool":
                value = self._constructor.construct_yaml_bool(node)
            elif kind == "null":
                value = None
            else:
                # str, and timestamps kept as written: a spec has no date fields
                # and params must stay JSON-able.
                value = str(node.value)
        except (ValueError, KeyError, TypeError):
            return self._problem(node, path, f"cannot read this value as {_short_tag(tag)}")
        return YScalar(line, column, value)

    def _mapping(self, node: yaml.MappingNode, path: str, line: int, column: int) -> YMap:
        explicit: dict[str, tuple[YScalar, YNode]] = {}
        merged: dict[str, tuple[YScalar, YNode]] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE_TAG:
                for source in self._merge_sources(value_node, path):
                    for key, entry in source.entries.items():
                        merged.setdefault(key, entry)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(
                    key_node, path, "a mapping key must be a plain name, not a collection"
                )
                continue
            key = str(key_node.value)
            key_mark = key_node.start_mark
            if key in explicit:
                first = explicit[key][0]
                self._problem(
                    key_node,
                    _join(path, key),
                    f"duplicate key '{key}' (first given at line {first.line})",
                )
                continue
            key_scalar = YScalar(key_mark.line + 1, key_mark.column + 1, key)
            explicit[key] = (key_scalar, self.build(value_node, _join(path, key)))
        # Explicit keys win over merged ones, like safe_load's "<<" handling.
        return YMap(line, column, {**merged, **explicit})

    def _merge_sources(self, node: yaml.Node, path: str) -> list[YMap]:
        """The mappings named by a ``<<:`` key (one mapping or a list of them)."""
        built = self.build(node, path)
        sources = built.items if isinstance(built, YSeq) else [built]
        maps = [s for s in sources if isinstance(s, YMap)]
        if len(maps) != len(sources):
            self._problem(node, path, "'<<' must name a mapping or a list of mappings")
        return maps  # earlier mappings win: setdefault keeps the first


def parse_yaml(text: str) -> tuple[YNode | None, list[YamlProblem]]:
    """Compose one YAML document into a :class:`YNode` tree.

    Returns the tree (None for an empty document) and the problems that did
    not stop reading (bad tags, duplicate keys). Raises :class:`YamlProblem`
    for problems that do (syntax errors, alias bombs, several documents).
    """
    loader: Any = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        if root is None:
            return None, []
        builder = _Builder()
        return builder.build(root, ""), builder.problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlProblem(
            f"not valid YAML: {message or 'syntax error'}",
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    except yaml.reader.ReaderError as exc:  # a control character in the text
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise YamlProblem(f"not valid YAML: {exc.reason} (#x{code:04x})", line, None) from None
    except RecursionError:
        raise YamlProblem("not a spec: the YAML is nested too deeply", None, None) from None
    finally:
        if loader is not None:
            loader.dispose()


def walk(node: YNode) -> Iterator[YNode]:
    """Every node of a tree (keys included), parents first."""
    yield node
    if isinstance(node, YSeq):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, YMap):
        for key_node, value in node.entries.values():
            yield key_node
            yield from walk(value)


def mark_defaults(node: YNode) -> None:
    """Flag a ``defaults`` tree, so errors in it are reported at ``defaults.*``."""
    for item in walk(node):
        item.from_defaults = True


def merge(
    base: YMap,
    override: YMap,
    exclusive: Mapping[tuple[str, ...], Sequence[frozenset[str]]],
    at: tuple[str, ...] = (),
) -> YMap:
    """Deep-merge ``override`` onto ``base``: mappings merge, anything else is replaced.

    ``exclusive`` lists, per mapping path, groups of keys that are one choice
    (e.g. ``chunking.rows`` / ``chunking.bytes``): when the override sets any
    key of a group, the base's keys of that group are dropped, so a job that
    says ``python:`` is not also given the defaults' ``type:``.
    """
    entries = dict(base.entries)
    for group in exclusive.get(at, ()):
        if group & override.entries.keys():
            for key in group:
                entries.pop(key, None)
    for key, (key_node, value) in override.entries.items():
        previous = entries.get(key)
        if previous and isinstance(previous[1], YMap) and isinstance(value, YMap):
            entries[key] = (key_node, merge(previous[1], value, exclusive, (*at, key)))
        else:
            entries[key] = (key_node, value)
    return YMap(override.line, override.column, entries, from_defaults=override.from_defaults)


def to_plain(node: YNode) -> Any:
    """The plain (JSON-able) Python value of a tree, for free-form sections."""
    if isinstance(node, YMap):
        return {key: to_plain(value) for key, (_, value) in node.entries.items()}
    if isinstance(node, YSeq):
        return [to_plain(item) for item in node.items]
    assert isinstance(node, YScalar)
    return node.value
