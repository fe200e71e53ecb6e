"""Instruction data for causal-LM tuning: ``(prompt, response)`` rows and the response loss.

An example is a ``(prompt, response)`` pair (``text_column`` and ``label_column`` of the data
file). Its row is ``(2, length)``: the token ids of the prompt (with the tokenizer's special
tokens) followed by the response and an end token, and a mask that is 1 on the response
tokens. Stage training minimises the mean cross-entropy of next-token prediction over the
response tokens only (:func:`response_loss`). :func:`tiny_llama` is a random 4-layer Llama
built from a config for offline tests; any ``AutoModelForCausalLM`` loads by hub name or
local path (:func:`s3t_train.model.load_base_model`; LoRA ``target_modules`` ``q_proj v_proj``
for Llama). Generation from the ensemble is :mod:`s3t_train.causal_lm`.
"""
from __future__ import annotations

import torch

RESPONSE_OUTPUT = "response"  # the one "label name" of a causal-LM run


def tiny_llama(vocab_size: int, seed: int = 0) -> torch.nn.Module:
    """A randomly initialised 4-layer Llama (hidden 32) built from a config: no download."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=4, num_attention_heads=4,
                         num_key_value_heads=4, intermediate_size=64, max_position_embeddings=256)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LlamaForCausalLM(config)


def end_token(tokenizer) -> int:
    """The token that ends a response: the tokenizer's EOS, else its SEP (BERT vocabularies)."""
    token = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    if token is None:
        raise ValueError("the tokenizer has neither an EOS nor a SEP token to end responses with")
    return int(token)


def encode_instructions(tokenizer, pairs: list, max_length: int) -> list[torch.Tensor]:
    """``(2, length)`` rows (ids; 1 on response tokens) of ``(prompt, response)`` pairs, or
    ``(1, length)`` prompt rows of plain prompts (generation). Cut at ``max_length`` tokens."""
    rows = []
    for item in pairs:
        prompt, response = item if isinstance(item, tuple) else (item, None)
        ids = tokenizer(prompt)["input_ids"]
        if response is None:
            rows.append(torch.tensor([ids[:max_length]], dtype=torch.long))
            continue
        answer = tokenizer(response, add_special_tokens=False)["input_ids"] + [end_token(tokenizer)]
        full = (ids + answer)[:max_length]
        mask = ([0] * len(ids) + [1] * len(answer))[:max_length]
        rows.append(torch.tensor([full, mask], dtype=torch.long))
    return rows


def padded_tokens(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ``(input_ids, attention_mask, response_mask)`` of rows."""
    longest = max(r.shape[1] for r in rows)
    out = torch.zeros(3, len(rows), longest, dtype=torch.long)
    for b, r in enumerate(rows):
        out[0, b, : r.shape[1]] = r[0]
        out[1, b, : r.shape[1]] = 1
        if r.shape[0] > 1:
            out[2, b, : r.shape[1]] = r[1]
    return out[0], out[1], out[2]


def response_loss(logits: torch.Tensor, rows: list[torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy of predicting each response token from the tokens before it."""
    input_ids, _, response = padded_tokens(rows)
    targets = response[:, 1:].bool().to(logits.device)
    if not bool(targets.any()):
        raise ValueError("a batch holds no response tokens (max_length cuts them all): raise max_length")
    return torch.nn.functional.cross_entropy(logits[:, :-1][targets].float(), input_ids[:, 1:].to(logits.device)[targets])
