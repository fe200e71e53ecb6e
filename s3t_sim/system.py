"""Unlearning systems: S3T (m shards x L slices, B sequences per shard) and SISA.

A system is built *from* sequence sets (selection methods live in :mod:`s3t_sim.selection`).
It answers one question for the simulator and the exact laws: given which slices
have been hit, how long a prefix does each shard still serve?

- S3T with sequence sets ``P_s`` (int array ``(m, B, L)``):
  ``k_s(D) = max_{pi in P_s} (leading elements of pi not in D)`` (``s3t_sim.prefix``).
- SISA with checkpoint fallback: S3T with the single sequence ``0, 1, ..., L-1``; a hit on
  slice ``j`` rolls the shard back to checkpoint ``j - 1``.
- SISA without fallback (``checkpoint_fallback=False``, the authors' SISA counter): any hit
  on a shard kills it, ``k_s = L`` before the first hit and ``0`` after.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from s3t_sim.prefix import served_prefix
from s3t_sim.checks import check_choice, check_int, check_sequences


def best_prefix_minima(values: np.ndarray, sequences: np.ndarray) -> np.ndarray:
    """``out[..., j-1] = max_pi min_{t < j} values[..., pi_t]`` over the sequences ``(B, L)``, shape of ``values``.

    With ``values`` the first-hit times (or event indices) of a shard's slices this is when it
    stops serving ``j`` stages. The running minimum walks the slice axis, each step one
    vectorised minimum over (sequences x rows) of a row-gather from the transposed chunk
    (contiguous rows; no (L, B, rows) array); rows go in chunks of ``2^16 / B`` (cache-sized).

    Examples
    --------
    >>> best_prefix_minima(np.array([[3, 1, 2]]), np.array([[0, 1, 2], [2, 0, 1]])).tolist()
    [[3, 2, 1]]
    """
    seqs = np.asarray(sequences)
    B, L = seqs.shape
    rows = np.asarray(values).reshape(-1, L)
    out = np.empty(rows.shape, dtype=rows.dtype)
    if rows.dtype.kind in "iu" and rows.size and -2**31 <= rows.min() and rows.max() < 2**31:
        rows = rows.astype(np.int32)  # half the memory traffic; results are cast back into ``out``
    step = max(16, (1 << 16) // B)
    for lo in range(0, rows.shape[0], step):
        columns = np.ascontiguousarray(rows[lo:lo + step].T)  # (L, rows)
        current = columns[seqs[:, 0]]  # (B, rows)
        out[lo:lo + step, 0] = current.max(axis=0)
        for j in range(1, L):
            np.minimum(current, columns[seqs[:, j]], out=current)
            out[lo:lo + step, j] = current.max(axis=0)
    return out.reshape(np.shape(values))


@dataclass(frozen=True)
class S3TSystem:
    """``m`` shards x ``L`` slices with per-shard sequence sets ``sequences[s]`` of shape ``(B, L)``.

    Build one from sequence sets, with :meth:`sisa`, or by a selection method with
    :func:`s3t_sim.selection.build_system`.

    Examples
    --------
    >>> sys_ = S3TSystem(np.broadcast_to([[0, 1, 2], [1, 2, 0]], (2, 2, 3)))
    >>> sys_.served_prefix(np.array([[True, False, False], [False, False, False]])).tolist()
    [2, 3]
    """

    sequences: np.ndarray
    checkpoint_fallback: bool = True
    name: str = field(default="s3t", compare=False)

    def __post_init__(self) -> None:
        seqs = np.asarray(self.sequences)
        if seqs.ndim != 3:
            raise ValueError(f"sequences must have shape (m, B, L); got shape {seqs.shape}")
        if not self.checkpoint_fallback and seqs.shape[1] != 1:
            raise ValueError(f"checkpoint_fallback=False is SISA's one-sequence model; B must be 1, got {seqs.shape[1]}")
        if seqs.shape[0] == 1 or seqs.strides[0] == 0:  # one set for all shards: checked and held once
            checked = np.broadcast_to(check_sequences("sequences[0]", seqs[0], seqs.shape[2]), seqs.shape)
        else:
            seen: set[bytes] = set()
            for s in range(seqs.shape[0]):  # each distinct set checked once
                if seqs[s].tobytes() not in seen:
                    check_sequences(f"sequences[{s}]", seqs[s], seqs.shape[2])
                    seen.add(seqs[s].tobytes())
            checked = seqs.astype(np.int64, copy=True)
            checked.setflags(write=False)
        object.__setattr__(self, "sequences", checked)

    @property
    def shared(self) -> bool:
        """Whether every shard holds the same sequence set (stored once, as a broadcast view)."""
        return self.sequences.strides[0] == 0 or self.m == 1

    # -- construction -------------------------------------------------------------------
    @classmethod
    def sisa(cls, m: int, L: int, fallback: bool = True) -> "S3TSystem":
        """SISA: one sequence ``0..L-1`` per shard, with or without checkpoint fallback."""
        m = check_int("m", m, 1)
        L = check_int("L", L, 1)
        seqs = np.broadcast_to(np.arange(L), (m, 1, L))
        return cls(seqs, checkpoint_fallback=fallback, name="sisa" if fallback else "sisa-no-fallback")

    # -- shape ----------------------------------------------------------------------------
    @property
    def m(self) -> int:
        return self.sequences.shape[0]

    @property
    def B(self) -> int:
        return self.sequences.shape[1]

    @property
    def L(self) -> int:
        return self.sequences.shape[2]

    @property
    def n_slices(self) -> int:
        return self.m * self.L

    # -- the served prefix ----------------------------------------------------------------
    def served_prefix(self, deleted: np.ndarray) -> np.ndarray:
        """Served prefix of every shard, int array ``(..., m)``, from a bool array ``(..., m, L)``."""
        deleted = np.asarray(deleted, dtype=bool)
        if deleted.shape[-2:] != (self.m, self.L):
            raise ValueError(f"deleted must have shape (..., m, L) = (..., {self.m}, {self.L}); got {deleted.shape}")
        if not self.checkpoint_fallback:
            return np.where(deleted.any(axis=-1), 0, self.L)
        if self.shared:  # one set: every shard at once, in chunks of rows (memory O(chunk B L))
            rows = deleted.reshape(-1, self.L)
            step = max(1, (1 << 22) // (self.B * self.L))
            flat = np.concatenate([served_prefix(self.sequences[0], rows[i:i + step]) for i in range(0, rows.shape[0], step)])
            return flat.astype(np.int64).reshape(deleted.shape[:-1])
        out = np.empty(deleted.shape[:-1], dtype=np.int64)
        for s in range(self.m):
            out[..., s] = served_prefix(self.sequences[s], deleted[..., s, :])
        return out

    def death_slices(self) -> np.ndarray:
        """Bool mask ``(m, L)`` of the slices whose hits decide whether a shard is dead.

        With fallback a shard is dead when *all* its distinct first elements are hit;
        without fallback when *any* of its slices is hit.
        """
        mask = np.zeros((self.m, self.L), dtype=bool)
        if not self.checkpoint_fallback:
            mask[:] = True
        elif self.shared:
            mask[:, self.sequences[0, :, 0]] = True
        else:
            mask[np.arange(self.m)[:, None], self.sequences[:, :, 0]] = True
        return mask

    def stage_lifetimes(self, hit_event: np.ndarray) -> np.ndarray:
        """When each shard loses each stage, from the first-hit event index of every slice.

        ``hit_event[..., s, i]`` is the 0-based index of slice ``(s, i)`` in the order of
        first hits (a value ``>=`` the number of events simulated means "never hit").
        Returns ``life[..., s, j-1] = max_{pi} min_{t < j} hit_event[..., s, pi_t]``: shard
        ``s`` serves at least ``j`` stages after ``e`` events iff ``life[..., s, j-1] >= e``,
        so ``k_s(e) = #{j : life[..., s, j-1] >= e}``. Non-increasing in ``j``.
        """
        hit_event = np.asarray(hit_event)
        if not self.checkpoint_fallback:
            first = hit_event.min(axis=-1, keepdims=True)
            return np.broadcast_to(first, hit_event.shape).copy()
        if self.shared:
            return best_prefix_minima(hit_event, self.sequences[0])
        out = np.empty(hit_event.shape, dtype=hit_event.dtype)
        step = max(1, (1 << 22) // max(1, hit_event[..., 0, 0].size * self.B * self.L))  # shards per chunk: bounded memory
        for lo in range(0, self.m, step):
            hi = min(self.m, lo + step)
            along = hit_event[..., lo:hi, :][..., np.arange(hi - lo)[:, None, None], self.sequences[lo:hi]]  # (..., chunk, B, L)
            out[..., lo:hi, :] = np.minimum.accumulate(along, axis=-1).max(axis=-2)
        return out

    def death_events(self, hit_event: np.ndarray) -> np.ndarray:
        """Event index after which each shard is dead, ``(..., m)``: ``stage_lifetimes(...)[..., 0]``
        computed from the first elements only (shard ``s`` is dead after ``e`` events iff the
        value is ``< e``)."""
        hit_event = np.asarray(hit_event)
        if not self.checkpoint_fallback:
            return hit_event.min(axis=-1)
        shard_index = np.arange(self.m)[:, None]
        return hit_event[..., shard_index, self.sequences[:, :, 0]].max(axis=-1)

    def shard_prefix(self, shard: int, deleted_row: np.ndarray) -> int:
        """Served prefix of one shard from its bool row ``(L,)`` of hit slices."""
        if not self.checkpoint_fallback:
            return 0 if deleted_row.any() else self.L
        return int(served_prefix(self.sequences[shard], deleted_row))

    def retraining_stage_cost(self, unit: str = "stages") -> np.ndarray:
        """SISA's retraining cost of one hit on each slice, float array ``(m, L)``.

        A hit on the slice at position ``j`` (1-based) of a shard's sequence retrains that shard
        from checkpoint ``j - 1``: stages ``j..L``. ``unit="stages"`` counts them (``L - j + 1``);
        ``unit="slice-passes"`` weighs stage ``k`` by the ``k`` slices it trains on
        (``sum_{k=j}^{L} k``). Only defined for one sequence per shard (SISA).
        """
        check_choice("unit", unit, ("stages", "slice-passes"))
        if self.B != 1:
            raise ValueError(f"retraining cost is SISA's model and needs B = 1; got B = {self.B}")
        L = self.L
        position = np.empty((self.m, L), dtype=np.int64)
        for s in range(self.m):
            position[s, self.sequences[s, 0]] = np.arange(1, L + 1)
        if unit == "stages":
            return (L - position + 1).astype(float)
        return ((L * (L + 1) - (position - 1) * position) / 2).astype(float)
