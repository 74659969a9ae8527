"""A fraud rule's condition: JSON, checked once and compiled into a small tree of closures.

The grammar (DESIGN §5.1) is a fixed set of operations, never code:

- ``{"op": "and" | "or", "args": [condition, ...]}`` and ``{"op": "not", "args": [condition]}``;
- ``{"op": "==" | "!=" | "<" | "<=" | ">" | ">=", "args": [operand, operand]}``;
- ``{"op": "in", "args": [operand, [literal, ...]]}``;
- ``{"op": "between", "args": [operand, low, high]}`` (both ends included);

an operand is ``{"feature": "name"}`` or a literal (number, string, true or false). Both
sides of a comparison have one type; ``<``, ``between`` and friends take numbers. A
comparison with a null feature is false, and the evaluation says which features were null.

Bad conditions raise ``ConditionError`` with the path of the node at fault, e.g.
``condition.args[1].args[0]``."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from account_alerts.domain.fraud_features import FEATURES, EventKind, FeatureType, Value

MAX_DEPTH = 12
MAX_NODES = 200
MAX_IN_VALUES = 500
MAX_TEXT = 16_384

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
ORDERED = ("<", "<=", ">", ">=")
_OPS = ("and", "or", "not", *COMPARISONS, "in", "between")


class ConditionError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass
class Evaluation:
    """Names of the features that were null where a comparison needed them."""

    nulls: set[str]


Test = Callable[[Mapping[str, Value], Evaluation], bool]
Operand = Callable[[Mapping[str, Value]], Value]


@dataclass(frozen=True)
class Condition:
    """A checked condition: its JSON, the features it reads, and its compiled test."""

    document: dict[str, Any]
    features: frozenset[str]
    test: Test

    def evaluate(self, features: Mapping[str, Value]) -> tuple[bool, list[str]]:
        """Whether it holds, and the features that were null where it compared them."""
        evaluation = Evaluation(set())
        return self.test(features, evaluation), sorted(evaluation.nulls)


def parse(document: Any, kinds: Iterable[EventKind], path: str = "condition") -> Condition:
    """Check ``document`` (a JSON value or its text) for rules of ``kinds`` and compile it."""
    if isinstance(document, str):
        if len(document) > MAX_TEXT:
            raise ConditionError(path, f"is longer than {MAX_TEXT} characters")
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise ConditionError(path, f"is not valid JSON: {exc.msg}") from exc
    compiler = _Compiler(frozenset(kinds))
    test = compiler.condition(document, path, depth=1)
    return Condition(document, frozenset(compiler.features), test)


class _Compiler:
    def __init__(self, kinds: frozenset[EventKind]) -> None:
        self.kinds = kinds
        self.nodes = 0
        self.features: set[str] = set()

    def _count(self, path: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ConditionError(path, f"the condition has more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise ConditionError(path, f"the condition is nested deeper than {MAX_DEPTH}")

    def condition(self, node: Any, path: str, depth: int) -> Test:
        self._count(path, depth)
        if not isinstance(node, dict):
            raise ConditionError(path, 'must be an object such as {"op": "and", "args": [...]}')
        if set(node) != {"op", "args"}:
            extra = sorted(set(node) - {"op", "args"})
            missing = sorted({"op", "args"} - set(node))
            detail = f"unknown keys {extra}" if extra else f"missing {missing}"
            raise ConditionError(path, f"a condition has exactly the keys op and args ({detail})")
        op, args = node["op"], node["args"]
        if op not in _OPS:
            raise ConditionError(f"{path}.op", f"unknown op {op!r}; one of {', '.join(_OPS)}")
        if not isinstance(args, list):
            raise ConditionError(f"{path}.args", "must be a list")
        at = [f"{path}.args[{i}]" for i in range(len(args))]
        if op in ("and", "or"):
            if not args:
                raise ConditionError(f"{path}.args", f"{op} needs at least one condition")
            tests = [self.condition(arg, at[i], depth + 1) for i, arg in enumerate(args)]
            return _all(tests) if op == "and" else _any(tests)
        if op == "not":
            _arity(args, 1, path, op)
            inner = self.condition(args[0], at[0], depth + 1)
            return lambda f, e: not inner(f, e)
        if op in COMPARISONS:
            _arity(args, 2, path, op)
            (left, left_type), (right, right_type) = (
                self.operand(args[i], at[i], depth + 1) for i in range(2)
            )
            _same_type(left_type, right_type, at[1])
            if op in ORDERED and left_type is not FeatureType.NUMBER:
                raise ConditionError(path, f"{op} compares numbers, not {left_type.lower()}s")
            return _comparison(op, left, right)
        if op == "in":
            _arity(args, 2, path, op)
            value, kind = self.operand(args[0], at[0], depth + 1)
            choices = args[1]
            if not isinstance(choices, list) or not choices:
                raise ConditionError(at[1], "in needs a non-empty list of values")
            if len(choices) > MAX_IN_VALUES:
                raise ConditionError(at[1], f"in takes at most {MAX_IN_VALUES} values")
            options = []
            for i, choice in enumerate(choices):
                _same_type(kind, _literal_type(choice, f"{at[1]}[{i}]"), f"{at[1]}[{i}]")
                options.append(choice)
            allowed = frozenset(options)
            return _membership(value, allowed)
        # between
        _arity(args, 3, path, op)
        value, kind = self.operand(args[0], at[0], depth + 1)
        low, low_type = self.operand(args[1], at[1], depth + 1)
        high, high_type = self.operand(args[2], at[2], depth + 1)
        for item_type, where in ((kind, at[0]), (low_type, at[1]), (high_type, at[2])):
            if item_type is not FeatureType.NUMBER:
                raise ConditionError(where, f"between takes numbers, not {item_type.lower()}s")
        return _between(value, low, high)

    def operand(self, node: Any, path: str, depth: int) -> tuple[Operand, FeatureType]:
        self._count(path, depth)
        if isinstance(node, dict):
            if set(node) != {"feature"}:
                raise ConditionError(path, 'an operand is {"feature": "name"} or a literal')
            name = node["feature"]
            feature = FEATURES.get(name) if isinstance(name, str) else None
            if feature is None:
                raise ConditionError(f"{path}.feature", f"unknown feature {name!r}")
            missing = sorted(self.kinds - feature.kinds)
            if missing:
                raise ConditionError(
                    f"{path}.feature",
                    f"{name} is not defined for {' or '.join(missing)} events",
                )
            self.features.add(name)
            return _feature(name), feature.type
        kind = _literal_type(node, path)
        return (lambda f: node), kind


def _literal_type(node: Any, path: str) -> FeatureType:
    if isinstance(node, bool):
        return FeatureType.BOOLEAN
    if isinstance(node, int | float):
        if isinstance(node, float) and not math.isfinite(node):
            raise ConditionError(path, "numbers must be finite")
        return FeatureType.NUMBER
    if isinstance(node, str):
        return FeatureType.STRING
    raise ConditionError(path, 'must be {"feature": "name"}, a number, a string, true or false')


def _arity(args: list[Any], count: int, path: str, op: str) -> None:
    if len(args) != count:
        raise ConditionError(f"{path}.args", f"{op} takes {count} arguments, not {len(args)}")


def _same_type(left: FeatureType, right: FeatureType, path: str) -> None:
    if left is not right:
        raise ConditionError(path, f"compares a {left.lower()} with a {right.lower()}")


@dataclass(frozen=True)
class _Feature:
    """An operand reading one feature (named, so a null can be reported)."""

    feature_name: str

    def __call__(self, features: Mapping[str, Value]) -> Value:
        return features.get(self.feature_name)


def _feature(name: str) -> Operand:
    return _Feature(name)


def _comparison(op: str, left: Operand, right: Operand) -> Test:
    compare: Callable[[Any, Any], bool] = {
        "==": operator.eq,
        "!=": operator.ne,
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
    }[op]

    def test(features: Mapping[str, Value], evaluation: Evaluation) -> bool:
        a, b = left(features), right(features)
        if a is None or b is None:
            _record_nulls(evaluation, features, left, right)
            return False
        return compare(a, b)

    return test


def _membership(value: Operand, allowed: frozenset[Any]) -> Test:
    def test(features: Mapping[str, Value], evaluation: Evaluation) -> bool:
        a = value(features)
        if a is None:
            _record_nulls(evaluation, features, value)
            return False
        return a in allowed

    return test


def _between(value: Operand, low: Operand, high: Operand) -> Test:
    def test(features: Mapping[str, Value], evaluation: Evaluation) -> bool:
        a, lo, hi = value(features), low(features), high(features)
        if a is None or lo is None or hi is None:
            _record_nulls(evaluation, features, value, low, high)
            return False
        return bool(lo <= a <= hi)  # type: ignore[operator]

    return test


def _record_nulls(evaluation: Evaluation, features: Mapping[str, Value], *ops: Operand) -> None:
    for op in ops:
        name = getattr(op, "feature_name", None)
        if name is not None and features.get(name) is None:
            evaluation.nulls.add(name)


# Loops, not all() over a generator: a backtest runs these a million times.
def _all(tests: list[Test]) -> Test:
    def test(features: Mapping[str, Value], evaluation: Evaluation) -> bool:
        for each in tests:  # noqa: SIM110 - a loop, not a generator, on the hot path
            if not each(features, evaluation):
                return False
        return True

    return test


def _any(tests: list[Test]) -> Test:
    def test(features: Mapping[str, Value], evaluation: Evaluation) -> bool:
        for each in tests:  # noqa: SIM110 - a loop, not a generator, on the hot path
            if each(features, evaluation):
                return True
        return False

    return test
