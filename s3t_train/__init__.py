"""The S3T training backend: slice-wise LoRA training on real models, exact deletion.

Modules (import them directly; this package imports nothing heavy on its own):

- ``config``: run configuration dataclasses (data, LoRA groups, training, system).
- ``data``: loading TSV/CSV/JSONL or hub sets, the seeded shard/slice split, the data store.
- ``model``: model surgery (LoRA in L groups of layers, head, forward from a layer).
- ``checkpoints``: atomic safetensors node checkpoints with provenance.
- ``training``: ``train_node`` (one prefix-tree node) and ``train_run`` (local executor).
- ``system``: ``S3TRun``: deletion journal, serving, audit, retraining, f(k) profile.
- ``commands``: ``s3t train / delete / predict / eval / audit / retrain / profile``.
"""
