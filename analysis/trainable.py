"""What can be trained: a model's layer count bounds L (one LoRA layer group per stage).

``s3t train`` splits a model's encoder layers into ``L`` contiguous groups
(:func:`s3t_train.model.layer_groups`), so ``L`` can be at most the number of hidden layers.
The count is read from the model's configuration (``transformers.AutoConfig``): offline
for the default ``minilm``, a Hugging Face name or local path otherwise.
"""
from __future__ import annotations

from functools import lru_cache

LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers")


@lru_cache(maxsize=16)
def model_layers(name: str) -> int:
    """Hidden-layer count of model ``name`` (``'minilm'``, a hub name or a local path), from its config."""
    from transformers import AutoConfig

    from s3t_train.model import DEFAULT_MODEL, TINY_MODEL, resolve_model_path

    if name == TINY_MODEL:
        raise ValueError("model 'tiny' is the random test model built in code; give 'minilm', a hub name or a local path")
    try:
        config = AutoConfig.from_pretrained(resolve_model_path(name), local_files_only=name == DEFAULT_MODEL)
    except (OSError, ValueError) as exc:
        raise ValueError(f"model: cannot read the configuration of {name!r} ({str(exc).splitlines()[0]})") from None
    for key in LAYER_KEYS:
        if isinstance(getattr(config, key, None), int):
            return int(getattr(config, key))
    raise ValueError(f"model: the configuration of {name!r} has none of {', '.join(LAYER_KEYS)}")


def untrainable_reason(name: str, L: int) -> str | None:
    """Why ``L`` slices cannot be trained on ``name`` (None when they can)."""
    layers = model_layers(name)
    return None if L <= layers else f"L = {L} > {layers} layers of {name}: s3t train needs one layer group per slice"
