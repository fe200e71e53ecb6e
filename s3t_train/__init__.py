"""The S3T training backend: slice-wise LoRA training on real models, exact deletion.

Modules (import them directly; this package imports nothing heavy on its own), lowest first:

- ``layout``: the files of a run folder and their paths.
- ``config``: run configuration dataclasses (data, LoRA groups, training, system).
- ``data``: loading TSV/CSV/JSONL or hub sets, the seeded shard/slice split, deletion weights.
- ``store``: ``DataStore``, the SQLite store of a run's training examples.
- ``run_folder``: ``create_run``, ``RunInfo``, membership, the prefix-tree nodes of a run.
- ``packed``: the padding-free (packed) forward of BERT layers, padded batches.
- ``model``: model surgery (peft LoRA in L groups of layers, head, forward from a layer).
- ``checkpoints``: atomic safetensors node checkpoints with provenance.
- ``stage_model``: the run's model loaded once per process and put in the state of a prefix.
- ``cache``: the activation cache (token ids, frozen hidden states).
- ``training``: ``train_node``, the training loop of one prefix-tree node.
- ``executors`` / ``ray_executor`` / ``backends``: running a tree in-process or on Ray, ``--backend``.
- ``driver``: ``train_run`` (local), ``train_run_ray``, ``train_with_backend``.
- ``journal``: the append-only deletion journal.
- ``unlearning``: ``DeletionState``: deletion by deactivation, journal replay, served prefixes.
- ``run``: ``S3TRun``, an opened run folder and its state.
- ``serving`` / ``evaluation`` / ``audit`` / ``retraining``: operations on an opened run.
- ``commands``: ``s3t train / delete / predict / eval / audit / retrain / profile``.
"""
