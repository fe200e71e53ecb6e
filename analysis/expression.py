"""Safe evaluation of user-supplied bound expressions such as ``"m*L*log(m*L)"``.

The expression is parsed with :mod:`ast` and only a small arithmetic language is
accepted; nothing is ever passed to ``eval``. Allowed:

- numbers (int or float literals);
- the names ``m`` (shards), ``L`` (slices per shard), ``B`` (budget), ``n = m*L`` and
  ``Bp = min(B, L)`` (the effective budget B');
- the operators ``+ - * / **`` and unary ``-`` / ``+``;
- the functions ``log`` (natural), ``log2``, ``log10``, ``sqrt``, ``exp``, ``min``,
  ``max`` and ``H`` (harmonic number, ``H(k) = 1 + 1/2 + ... + 1/k``).

Everything else (attribute access, subscripts, strings, comprehensions, lambdas,
calls of other names, keyword arguments, comparisons, ...) is refused with a
``ValueError`` that says what was found. Exponents are limited to ``|e| <= 16`` when
they are constants, so ``9**9**9`` cannot exhaust memory or time.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable

import numpy as np

from s3t_sim.laws import harmonic

MAX_EXPRESSION_LENGTH = 500
MAX_CONSTANT_EXPONENT = 16.0
MAX_NODES = 200
MAX_CONSTANT = 1e300

VARIABLES = ("m", "L", "B", "n", "Bp")


def _vector_min(*args: np.ndarray) -> np.ndarray:
    return np.minimum.reduce(np.broadcast_arrays(*[np.asarray(a, dtype=float) for a in args]))


def _vector_max(*args: np.ndarray) -> np.ndarray:
    return np.maximum.reduce(np.broadcast_arrays(*[np.asarray(a, dtype=float) for a in args]))


# name -> (function, smallest number of arguments, largest number of arguments)
FUNCTIONS: dict[str, tuple[Callable[..., np.ndarray], int, int]] = {
    "log": (np.log, 1, 1),
    "log2": (np.log2, 1, 1),
    "log10": (np.log10, 1, 1),
    "sqrt": (np.sqrt, 1, 1),
    "exp": (np.exp, 1, 1),
    "H": (harmonic, 1, 1),
    "min": (_vector_min, 2, 8),
    "max": (_vector_max, 2, 8),
}

_BINARY = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
}
_UNARY = {ast.USub: np.negative, ast.UAdd: np.positive}


def _refuse(expression: str, node: ast.AST, what: str) -> ValueError:
    where = f" at column {node.col_offset + 1}" if hasattr(node, "col_offset") else ""
    allowed = (
        f"numbers, the names {', '.join(VARIABLES)}, + - * / ** and the functions "
        f"{', '.join(FUNCTIONS)}"
    )
    return ValueError(f"bound expression {expression!r}: {what}{where} is not allowed; use only {allowed}")


def _check(expression: str, node: ast.AST) -> None:
    """Walk the tree and refuse every node outside the small arithmetic language."""
    if isinstance(node, ast.Expression):
        _check(expression, node.body)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _refuse(expression, node, f"the constant {node.value!r}")
        if not abs(node.value) <= MAX_CONSTANT:  # also inf (1e999) and nan
            raise _refuse(expression, node, f"a constant of magnitude above {MAX_CONSTANT:g}")
    elif isinstance(node, ast.Name):
        if node.id not in VARIABLES:
            raise _refuse(expression, node, f"the name {node.id!r}")
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise _refuse(expression, node, f"the operator {type(node.op).__name__}")
        if isinstance(node.op, ast.Pow):
            exponent = node.right
            if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.operand, ast.Constant):
                exponent = exponent.operand
            if isinstance(exponent, ast.Constant) and isinstance(exponent.value, (int, float)):
                if abs(exponent.value) > MAX_CONSTANT_EXPONENT:
                    raise _refuse(expression, node, f"the exponent {exponent.value!r} (larger than {MAX_CONSTANT_EXPONENT:g})")
            elif isinstance(exponent, ast.BinOp) and isinstance(exponent.op, ast.Pow):
                raise _refuse(expression, node, "a nested power (a**b**c)")
        _check(expression, node.left)
        _check(expression, node.right)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise _refuse(expression, node, f"the operator {type(node.op).__name__}")
        _check(expression, node.operand)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _refuse(expression, node, "a call of something other than a plain function name")
        name = node.func.id
        if name not in FUNCTIONS:
            raise _refuse(expression, node, f"the function {name!r}")
        if node.keywords:
            raise _refuse(expression, node, f"keyword arguments in {name}()")
        _, low, high = FUNCTIONS[name]
        if not low <= len(node.args) <= high or any(isinstance(a, ast.Starred) for a in node.args):
            count = f"{low}" if low == high else f"{low} to {high}"
            raise ValueError(f"bound expression {expression!r}: {name}() takes {count} argument(s); got {len(node.args)}")
        for arg in node.args:
            _check(expression, arg)
    else:
        raise _refuse(expression, node, f"the syntax {type(node).__name__}")


def _evaluate(node: ast.AST, values: dict[str, np.ndarray]) -> np.ndarray:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, values)
    if isinstance(node, ast.Constant):
        return np.asarray(float(node.value))
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, values))
    if isinstance(node, ast.Call):
        return FUNCTIONS[node.func.id][0](*[_evaluate(a, values) for a in node.args])
    raise AssertionError(f"unchecked node {type(node).__name__}")  # _check refuses these


@dataclass(frozen=True)
class BoundExpression:
    """A parsed, checked bound ``g(m, L, B)``; call it with numbers or numpy arrays.

    Examples
    --------
    >>> g = parse_bound("m*L*log(m*L*Bp)")
    >>> round(float(g(m=5, L=6, B=10)), 3)
    155.789
    """

    text: str
    tree: ast.Expression

    def __call__(self, m: "np.ndarray | float", L: "np.ndarray | float", B: "np.ndarray | float") -> np.ndarray:
        m, L, B = (np.asarray(v, dtype=float) for v in (m, L, B))
        values = {"m": m, "L": L, "B": B, "n": m * L, "Bp": np.minimum(B, L)}
        with np.errstate(all="ignore"):  # log(0), 1/0 give inf/nan, which callers report
            return np.asarray(_evaluate(self.tree, values), dtype=float)

    def check_positive(self, points: "list[tuple[int, int, int]]") -> None:
        """Refuse a bound that is undefined (nan, inf) or not positive at any grid point
        ``(m, L, B)``, naming the first such points: a ratio exact/bound means nothing there."""
        m, L, B = (np.array([p[i] for p in points], dtype=float) for i in range(3))
        values = np.broadcast_to(self(m, L, B), m.shape)
        bad = [(pt, float(v)) for pt, v in zip(points, values) if not (np.isfinite(v) and v > 0)]
        if bad:
            shown = ", ".join(f"(m, L, B) = {pt}: {v:g}" for pt, v in bad[:3])
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            raise ValueError(f"bound expression {self.text!r} must be finite and positive at every grid point; "
                             f"it is not at {shown}{more}")

    def __str__(self) -> str:
        return self.text


def parse_bound(expression: str) -> BoundExpression:
    """Parse a bound expression in ``m, L, B`` (also ``n = m*L``, ``Bp = min(B, L)``).

    Raises ``ValueError`` naming the offending construct for anything outside the
    arithmetic language described in this module's docstring.

    Examples
    --------
    >>> float(parse_bound("m * H(m*Bp)")(m=2, L=3, B=1))
    3.0
    >>> parse_bound("__import__('os')")
    Traceback (most recent call last):
    ...
    ValueError: bound expression "__import__('os')": the function '__import__' at column 1 is not allowed; use only numbers, the names m, L, B, n, Bp, + - * / ** and the functions log, log2, log10, sqrt, exp, H, min, max
    """
    if not isinstance(expression, str):
        raise TypeError(f"bound expression must be a string; got {type(expression).__name__}")
    text = expression.strip()
    if not text:
        raise ValueError("bound expression must not be empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ValueError(f"bound expression must be at most {MAX_EXPRESSION_LENGTH} characters; got {len(text)}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"bound expression {text!r} is not valid arithmetic: {exc.msg}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ValueError(f"bound expression {text!r} is too long (more than {MAX_NODES} syntax nodes)")
    _check(text, tree)
    return BoundExpression(text=text, tree=tree)
