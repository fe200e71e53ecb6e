"""Image classification data and models: a folder-per-class layout, pixels, a tiny ViT.

:func:`read_image_folder` reads ``root/<class>/<image>`` (or ``root/train/<class>/...`` with
``root/val``, ``root/validation`` or ``root/test`` held out); an example's id is its position
in the sorted (class, file name) order and its "text" in the data store is the image's path
(the image file itself stays where the user keeps it). :func:`pixel_rows` turns paths into
``(1, channels, height, width)`` pixel tensors with the model's image processor, and
:func:`tiny_vit` is a random 4-layer ViT built from a config for offline tests. Any
``AutoModelForImageClassification`` loads by hub name or local path
(:func:`s3t_train.model.load_base_model`); its LoRA ``target_modules`` are the attention
projections of its layers (``q_proj v_proj`` for transformers' ViT).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
EVAL_FOLDERS = ("val", "validation", "test")
TINY_IMAGE_SIZE = 16


def image_folder(source: str | Path, split: str = "train") -> Path:
    """The class folders' parent for ``split``: ``source/train`` if it exists (else ``source``)
    for training; ``source/val``, ``validation`` or ``test`` for ``split='eval'``."""
    root = Path(source)
    if not root.is_dir():
        raise FileNotFoundError(f"image data must be a folder of class folders (root/<class>/<image>); not a folder: {source}")
    if split == "train":
        return root / "train" if (root / "train").is_dir() else root
    for name in EVAL_FOLDERS:
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"no held-out folder ({'/'.join(EVAL_FOLDERS)}) of class folders in image data folder {root}")


def read_image_folder(source: str | Path, split: str = "train") -> tuple[list[str], list[str]]:
    """Paths of the images and their class names (folder names), in sorted (class, file) order."""
    folder = image_folder(source, split)
    paths, labels = [], []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in ("train", *EVAL_FOLDERS)):
        for image in sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
            paths.append(str(image))
            labels.append(class_dir.name)
    if not paths:
        raise ValueError(f"image folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}) in class folders")
    return paths, labels


def tiny_vit(num_labels: int, seed: int = 0) -> "nn.Module":
    """A randomly initialised 4-layer ViT classifier (hidden 32, 16x16 images, 4x4 patches): no download."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=4, intermediate_size=64,
        image_size=TINY_IMAGE_SIZE, patch_size=4, num_channels=3, num_labels=num_labels,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ViTForImageClassification(config)


@lru_cache(maxsize=4)
def load_image_processor(name: str, tiny: bool):
    """The image processor of model ``name`` (``tiny``: resize to 16x16, scale to [0, 1],
    normalise with mean = std = 0.5, as ViT's processor does)."""
    from transformers import AutoImageProcessor, ViTImageProcessorPil

    if tiny:
        return ViTImageProcessorPil(size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE})
    return AutoImageProcessor.from_pretrained(name)


def pixel_rows(processor, paths: list[str]) -> "list[torch.Tensor]":
    """One ``(1, channels, height, width)`` pixel tensor per image path (RGB)."""
    from PIL import Image

    rows = []
    for path in paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"image not found: {path}")
        with Image.open(path) as image:
            rows.append(processor(image.convert("RGB"), return_tensors="pt")["pixel_values"])
    return rows
