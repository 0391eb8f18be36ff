"""YAML loading that remembers line numbers, so errors can point at the exact line to fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from reviewkit.errors import InputError


class LineDict(dict[str, Any]):
    """A mapping from YAML that knows the line of each key (1-based) and of itself."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence from YAML that knows the line of each item."""

    line: int = 0
    item_lines: list[int]


#: libyaml's parser where PyYAML was built with it (every wheel is): the same documents, nodes
#: and marks, composed about ten times faster than by the pure-Python parser.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    # Why: PyYAML resolves anything shaped like a date (e.g. 2026-13-01) as a timestamp and then
    # raises a bare ValueError for an impossible one, which escaped as a traceback. Keeping the
    # text lets the field's own validation report it with the file, line and field name (and a
    # free-text field that merely looks like a date keeps its text).
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


#: Input files are written by people: far larger ones are a mistake (or an attack), and reading
#: them whole would cost memory before any check could say so.
MAX_YAML_BYTES = 4 * 1024 * 1024
#: Values a document may hold once its aliases are expanded: a few kilobytes of nested aliases
#: ("billion laughs") expand to billions, which every later step would walk.
MAX_YAML_VALUES = 1_000_000


def load_yaml_mapping(path: Path, what: str, *, max_bytes: int = MAX_YAML_BYTES) -> LineDict:
    """Read a YAML file whose top level must be a mapping; errors name the file and line."""
    if path.is_dir():
        raise InputError(path, f"the {what} file is a folder; give the path of the file")
    if not path.is_file():
        raise InputError(path, f"{what} file not found; check the path")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(path, f"the {what} file is {size / 1048576:.1f} MiB; a {what} file "
                             f"may be at most {max_bytes // 1048576} MiB")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"cannot read {what} file: not UTF-8 text ({exc.reason}); save "
                         "it as UTF-8") from exc
    except OSError as exc:
        raise InputError(path, f"cannot read {what} file: {exc.strerror or exc}") from exc
    try:
        data = _load(text)
    except _TooLarge as exc:
        raise InputError(path, f"the {what} file's aliases expand to more than "
                         f"{MAX_YAML_VALUES:,} values; write the values out instead",
                         line=exc.line, field=exc.field) from None
    except RecursionError:
        raise InputError(path, f"the {what} file is nested too deeply") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(path, f"invalid YAML: {problem}", line=line) from exc
    except yaml.YAMLError as exc:
        raise InputError(path, f"invalid YAML: {exc}") from exc
    if not isinstance(data, LineDict):
        raise InputError(path, f"the {what} file must be a YAML mapping (key: value lines)")
    return data


class _TooLarge(Exception):
    def __init__(self, line: int, field: str | None) -> None:
        self.line = line
        self.field = field


def _load(text: str) -> Any:
    """Compose the document, check its expanded size, then construct it."""
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expanded_size(root: yaml.Node) -> None:
    """Count the values the document holds with every alias expanded (a node reached twice
    counts twice), without expanding it: sizes are added up once per distinct node."""
    sizes: dict[int, int] = {}
    # Children before parents, without recursion (a deep document must not exhaust the stack).
    order: list[yaml.Node] = []
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    seen: set[int] = set()
    parents: dict[int, tuple[yaml.Node, str | None]] = {}  # first parent, and the key it is under
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for child, key in _children_with_keys(node):
            parents.setdefault(id(child), (node, key))
            if id(child) not in seen:
                stack.append((child, False))
    for node in order:
        total = 1 + sum(sizes.get(id(child), 1) for child in _children(node))
        if total > MAX_YAML_VALUES:
            raise _TooLarge(node.start_mark.line + 1, _key_above(node, parents))
        sizes[id(node)] = total


def _key_above(node: yaml.Node, parents: dict[int, tuple[yaml.Node, str | None]]) -> str | None:
    """The mapping key a node sits under (its own, or its nearest ancestor's)."""
    current: yaml.Node | None = node
    while current is not None and id(current) in parents:
        parent, key = parents[id(current)]
        if key is not None:
            return key
        current = parent
    return None


def _children_with_keys(node: yaml.Node) -> list[tuple[yaml.Node, str | None]]:
    if isinstance(node, yaml.MappingNode):
        pairs: list[tuple[yaml.Node, str | None]] = []
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
            pairs += [(key_node, None), (value_node, key)]
        return pairs
    return [(child, None) for child in _children(node)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


#: YAML writes a NUL character as "\0" in a double-quoted string. No file name can hold one, and
#: the operating system's refusal (a ValueError) names neither the file nor the field.
NUL_IN_PATH = ("the path holds a NUL character (\\0), which no file name can hold; write the "
               "file's path")


def no_nul_character(value: object) -> object:
    """A path field's value as written, refused (ValueError) when it holds a NUL character: the
    params models use it as a "before" field validator."""
    if isinstance(value, str) and "\0" in value:
        raise ValueError(NUL_IN_PATH)
    return value


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean …?)' suffix when a close match exists, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_known_keys(
    path: Path, mapping: LineDict, allowed: Iterable[str], where: str = ""
) -> None:
    """Reject keys the contract does not know, naming the key and suggesting a close one."""
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            raise InputError(
                path,
                f"unknown key{where}{did_you_mean(key, allowed)}; allowed keys: "
                + ", ".join(allowed),
                line=mapping.line_of(key),
                field=key,
            )
