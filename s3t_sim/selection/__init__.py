"""Sequence selection: which B orders of a shard's L slices to train.

Entry points: :func:`select_sequences` (methods in :data:`METHODS`) for one shard,
:func:`build_system` for a whole system. Objectives that judge a set:
:func:`expected_served_prefix`, :func:`expected_requests_to_death`. The set as a prefix
tree: :func:`prefix_tree`, :func:`training_cost`.
"""
from s3t_sim.selection.baselines import full_budget, random_permutations, sisa
from s3t_sim.selection.bms import bipartite_matching_selection, bms_score
from s3t_sim.selection.build import build_system
from s3t_sim.selection.cyclic import balanced_prefix_tree, cyclic_rotations, cyclic_sequences, rotation_starts
from s3t_sim.selection.objectives import expected_requests_to_death, expected_served_prefix
from s3t_sim.selection.optimal import local_search, optimal_sequences
from s3t_sim.selection.prefix_tree import prefix_tree, training_cost
from s3t_sim.selection.registry import METHODS, select_sequences

__all__ = [
    "METHODS",
    "select_sequences",
    "build_system",
    "cyclic_rotations",
    "cyclic_sequences",
    "balanced_prefix_tree",
    "rotation_starts",
    "random_permutations",
    "full_budget",
    "sisa",
    "bipartite_matching_selection",
    "bms_score",
    "optimal_sequences",
    "local_search",
    "expected_served_prefix",
    "expected_requests_to_death",
    "prefix_tree",
    "training_cost",
]
