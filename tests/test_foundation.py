import numpy as np
import pytest

from analysis.cli import main
from s3t_sim.prefix import best_sequence, served_prefix, sequence_prefixes
from s3t_sim.selection.cyclic import cyclic_rotations
from s3t_sim.checks import check_budget, check_int, check_probabilities, check_sequences


def test_served_prefix_matches_definition_by_brute_force():
    rng = np.random.default_rng(0)
    L, B = 6, 3
    seqs = np.array([rng.permutation(L) for _ in range(B)])
    deleted = rng.random((200, L)) < 0.3
    got = served_prefix(seqs, deleted)
    for d, k in zip(deleted, got):
        want = 0
        for pi in seqs:
            n = 0
            while n < L and not d[pi[n]]:
                n += 1
            want = max(want, n)
        assert k == want


def test_best_sequence_prefers_longest_clean_prefix():
    seqs = cyclic_rotations(4, 4)
    assert best_sequence(seqs, np.array([True, False, False, True])) == (1, 2)
    assert sequence_prefixes(seqs, np.zeros(4, bool)).tolist() == [4, 4, 4, 4]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: check_int("m", 0, 1, 100), r"m must be an integer in \[1, 100\]; got 0"),
        (lambda: check_budget(7, 3), r"B must be an integer in \[1, L!\] = \[1, 6\]"),
        (lambda: check_probabilities("prior", [0.5, 0.6]), "prior must sum to 1"),
        (lambda: check_probabilities("prior", [1.5, -0.5]), "prior must be non-negative"),
        (lambda: check_sequences("sequences", [[0, 0, 1]], 3), "must be a permutation of 0..2"),
        (lambda: check_sequences("sequences", [[0, 1, 2], [0, 1, 2]], 3), "distinct"),
    ],
)
def test_bad_input_names_parameter_and_range(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_cli_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "usage: s3t" in capsys.readouterr().out
