"""The bound-expression parser: what it evaluates, and every kind of input it refuses."""
import math

import numpy as np
import pytest

from analysis.expression import parse_bound
from s3t_sim.laws import harmonic


@pytest.mark.parametrize(
    "text, m, L, B, expected",
    [
        ("m*L*log(m*L*Bp)", 5, 6, 10, 30 * math.log(180)),
        ("m*L*log(m*min(B, L))", 5, 6, 3, 30 * math.log(15)),
        ("n * H(m * Bp)", 2, 3, 1, 6 * 1.5),
        ("-m + +L - B / 2", 4, 6, 2, 1.0),
        ("sqrt(m)**2 + exp(0) + log2(8) + log10(100)", 9, 1, 1, 9 + 1 + 3 + 2),
        ("max(m, L, B) - min(m, L)", 3, 5, 8, 5),
        ("2**-1 * m", 4, 1, 1, 2.0),
    ],
)
def test_evaluates_arithmetic_on_the_names(text, m, L, B, expected):
    assert float(parse_bound(text)(m, L, B)) == pytest.approx(expected, rel=1e-12)


def test_evaluates_on_arrays_elementwise():
    g = parse_bound("m*L*log(m*L)")
    m = np.array([2, 4, 8])
    assert np.allclose(g(m, 3, 1), m * 3 * np.log(m * 3))


def test_harmonic_matches_the_sum_at_integers():
    assert np.allclose(harmonic(np.arange(1, 20)), np.cumsum(1 / np.arange(1, 20)))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("__import__('os').system('true')", "a call of something other than a plain function name"),
        ("__import__('os')", "the function '__import__'"),
        ("m.__class__", "the syntax Attribute"),
        ("open('x')", "the function 'open'"),
        ("eval('1')", "the function 'eval'"),
        ("(lambda: 1)()", "a call of something other than a plain function name"),
        ("lambda x: x", "the syntax Lambda"),
        ("[m for m in (1, 2)]", "the syntax ListComp"),
        ("'m' * 3", "the constant 'm'"),
        ("L[0]", "the syntax Subscript"),
        ("x + 1", "the name 'x'"),
        ("m if L else B", "the syntax IfExp"),
        ("m < L", "the syntax Compare"),
        ("m // L", "the operator FloorDiv"),
        ("m % L", "the operator Mod"),
        ("m ^ L", "the operator BitXor"),
        ("~m", "the operator Invert"),
        ("9**9**9", "a nested power"),
        ("m ** 1000", "the exponent 1000"),
        ("m ** -100", "the exponent 100"),
        ("log(m, 2)", "log() takes 1 argument(s); got 2"),
        ("min(m)", "min() takes 2 to 8 argument(s); got 1"),
        ("log(x=m)", "keyword arguments"),
        ("True + m", "the constant True"),
        ("m; import os", "not valid arithmetic"),
        ("import os", "not valid arithmetic"),
        ("m +", "not valid arithmetic"),
        ("", "must not be empty"),
        ("1j * m", "the constant 1j"),
    ],
)
def test_refuses_unsafe_or_malformed_input_with_a_clear_message(text, fragment):
    with pytest.raises(ValueError) as info:
        parse_bound(text)
    assert fragment in str(info.value)


def test_refuses_overlong_input_and_non_strings():
    with pytest.raises(ValueError, match="at most 500 characters"):
        parse_bound("+".join(["m"] * 300))
    with pytest.raises(TypeError, match="must be a string"):
        parse_bound(3)


def test_the_cli_refuses_an_unsafe_bound_before_any_work(capsys):
    from analysis.cli import main

    code = main(["bounds", "--grid", "m=2;L=2;B=1", "--bound", "__import__('os')"])
    assert code == 2
    assert "the function '__import__'" in capsys.readouterr().err
