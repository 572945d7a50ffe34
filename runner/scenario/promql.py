"""What the measurement must know about a PromQL expression before it reads it (also
checked when a scenario is validated).

Parsed with `promql_parser` (a real PromQL parser; hand-written selector scanning gets
`by (label)` lists, strings and keywords wrong). The shape says whether the expression is
a plain selector (its raw samples are the measurement's data), which selectors it reads
(their `timestamp()` tells when each value was really sampled), and the longest range it
looks back over (`rate(x[1m])` can show a change up to a minute after it happened).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import promql_parser

Ms = int


class ExpressionError(ValueError):
    """The expression cannot be parsed, or uses what measurement cannot read (offset, @)."""


@dataclass(frozen=True, kw_only=True)
class Shape:
    selector: bool
    """The whole expression is one vector selector (raw samples can be read directly)."""
    selectors: tuple[str, ...]
    """Every vector selector in the expression, as PromQL text, without duplicates."""
    range_ms: Ms
    """The longest range the expression looks back over (matrix selectors, subqueries)."""


@lru_cache(maxsize=256)
def shape(expr: str) -> Shape:
    """The shape of `expr`; raises ExpressionError with a one-line reason."""
    try:
        tree = promql_parser.parse(expr)
    except Exception as e:  # the binding raises a plain ValueError-like error with text
        raise ExpressionError(f"not valid PromQL: {_first_line(e)}") from None
    selectors: list[str] = []
    longest = 0
    problems: list[str] = []

    def visit(node: promql_parser.Expr) -> bool:
        nonlocal longest
        if isinstance(node, promql_parser.VectorSelector):
            if node.offset is not None or node.at is not None:
                problems.append("offset and @ modifiers cannot be measured (they read the past)")
            text = node.prettify()
            if text not in selectors:
                selectors.append(text)
        elif isinstance(node, promql_parser.MatrixSelector):
            longest = max(longest, _ms(node.range.total_seconds()))
        elif isinstance(node, promql_parser.SubqueryExpr):
            if node.offset is not None or node.at is not None:
                problems.append("offset and @ modifiers cannot be measured (they read the past)")
            if node.range is not None:
                longest = max(longest, _ms(node.range.total_seconds()))
        return True

    promql_parser.walk(tree, visit)
    if problems:
        raise ExpressionError(problems[0])
    inner = tree
    while isinstance(inner, promql_parser.ParenExpr):
        inner = inner.expr
    return Shape(
        selector=isinstance(inner, promql_parser.VectorSelector),
        selectors=tuple(selectors),
        range_ms=longest,
    )


def _ms(value: float) -> Ms:
    return round(value * 1000)


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
