"""Turning an autoregressive (AR) checkpoint into a diffusion one: the steps every converter shares.

A family that can start from an AR causal LM names its converter in
``ModelFamily.ar_converter``; ``dllm convert --from-ar`` picks the family
(:func:`converter_family`) and calls the converter with a :class:`ConvertRequest`. A converter
is built from these steps:

1. :func:`load_ar_source`: the output folder is checked first (a non-empty one is refused unless
   ``overwrite``; the source itself never), then the ``model_type`` in the source's
   ``config.json`` must be one the converter supports (refused before a weight is read), then the
   causal LM and its tokenizer load (safetensors only, never remote code);
2. :func:`add_special_tokens` adds the tokens the tokenizer lacks (a mask token) and
   :func:`default_pad_to_eos` names a pad token;
3. :func:`grown_state_dict`: the vocabulary grows to V' = max(len(tokenizer), V) rows. Every added
   token's row, and every row past V, of the input embedding and the output head is set to the
   mean row of the n tokens the source tokenizer knew, ``e_new = (1 / n) sum_{k < n} e_k``: a new
   token starts out as an "average" token, not as noise or zeros;
4. :func:`assign_weights` hands the tensors to the target model (built on the meta device) under
   the same names; a name missing on either side or a shape that differs is refused, since the
   converted model would compute something else than the AR model;
5. :func:`write_converted` writes the model, the tokenizer and ``dllm.json`` into a temporary
   sibling folder that is renamed into place, so a failure never leaves a half-written folder.

This module imports neither torch nor transformers at module level.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from dllm_core.checkpoint import CheckpointInfo, save_checkpoint
from dllm_core.errors import DllmError
from dllm_core.family import ModelFamily
from dllm_core.registry import get_registry

#: the objective ``dllm convert --from-ar`` converts for when neither a family nor an objective is named
DEFAULT_OBJECTIVE = "masked-diffusion"


@dataclass
class ConvertRequest:
    """What ``dllm convert --from-ar`` is asked to do."""

    source: Path  # folder of the AR checkpoint (config.json, safetensors weights, tokenizer)
    output: Path  # folder the diffusion checkpoint is written to
    overwrite: bool = False  # replace a non-empty output folder
    block_size: int | None = None  # tokens per block for block-diffusion targets; None: the family's


@dataclass
class ConvertResult:
    """What a conversion did."""

    output: Path
    family: str  # the family of the converted checkpoint
    model_type: str  # its config.json model_type
    vocab_size: int  # V': rows of the converted embedding and head
    mask_token_id: int
    added_tokens: list[str]  # special tokens added to the tokenizer
    initialised_rows: list[int]  # embedding/head rows set to the mean row
    objective: dict[str, Any] = field(default_factory=dict)  # dllm.json's objective: name and options
    zero_filled: list[str] = field(default_factory=list)  # parameters the source lacked, created as zeros


@dataclass
class ArSource:
    """A loaded AR checkpoint."""

    path: Path
    model_type: str  # the source config's model_type
    model: Any  # the transformers causal LM
    tokenizer: Any
    known_tokens: int  # n: len(tokenizer) before any token is added


@dataclass
class VocabularyGrowth:
    """How the token rows changed: V' rows, of which ``initialised`` hold the mean row."""

    rows: int
    initialised: list[int]


def converter_family(family: str | None = None, objective: str | None = None) -> ModelFamily:
    """The family ``dllm convert --from-ar`` converts into.

    ``family`` names it (it must declare an ``ar_converter``; ``objective``, when given, must be
    its default objective). Otherwise the one family with a converter whose default objective is
    ``objective`` (:data:`DEFAULT_OBJECTIVE` when ``None``) is chosen; none or several is an error.
    """
    registry = get_registry()
    convertible = [f for f in (entry.resolve() for entry in registry.families) if f.ar_converter]
    offered = ", ".join(f"{f.name} ({f.default_objective})" for f in convertible) or "none installed"
    if family is not None:
        chosen = registry.families.get(family)
        if chosen.ar_converter is None:
            raise DllmError(f"the {family} family cannot be converted into from an AR checkpoint; "
                            f"families that can (objective): {offered}")
        if objective is not None and objective != chosen.default_objective:
            raise DllmError(f"the {family} family converts for its {chosen.default_objective} objective, "
                            f"not {objective}; drop --objective or pick another --family from: {offered}")
        return chosen
    wanted = objective or DEFAULT_OBJECTIVE
    registry.objectives.entry(wanted)  # an unknown objective: error with a suggestion
    matching = [f for f in convertible if f.default_objective == wanted]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        raise DllmError(f"no installed family converts AR checkpoints for the {wanted} objective; families "
                        f"that can (objective): {offered}. Install the family's plugin or pass --family")
    names = ", ".join(f.name for f in matching)
    raise DllmError(f"several families convert for the {wanted} objective ({names}); pick one with --family")


def check_output(request: ConvertRequest) -> None:
    """Refuse an output folder that is the source, that holds anything unless ``overwrite``, or
    that cannot be created (under a file, or in a folder this process cannot write to)."""
    output, source = Path(request.output), Path(request.source)
    if output.exists() and source.exists() and output.resolve() == source.resolve():
        raise DllmError(f"--output {output} is the source checkpoint; write the conversion to a new folder")
    if output.exists() and not request.overwrite and (not output.is_dir() or any(output.iterdir())):
        raise DllmError(f"--output {output} already exists and is not empty; pass --overwrite to replace it "
                        "or choose a new folder")
    existing = next(folder for folder in output.absolute().parents if folder.exists())
    if not output.exists() and (not existing.is_dir() or not os.access(existing, os.W_OK)):
        raise DllmError(f"--output {output} cannot be created: {existing} is "
                        f"{'no folder' if not existing.is_dir() else 'not writable'}; choose another folder")


def source_model_type(source: Path, supported: Iterable[str], target: str) -> str:
    """The ``model_type`` in ``source/config.json``; raises when it is not one of ``supported``
    (the architectures the ``target`` family converts)."""
    config_file = Path(source) / "config.json"
    if not config_file.is_file():
        raise DllmError(f"{source} holds no config.json; pass the folder of a Hugging Face causal LM")
    try:
        model_type = json.loads(config_file.read_text()).get("model_type")
    except (OSError, json.JSONDecodeError) as exc:
        raise DllmError(f"cannot read {config_file}: {exc}") from None
    supported = list(supported)
    if model_type not in supported:
        raise DllmError(f"{source} is a {model_type!r} model; --from-ar into the {target} family converts "
                        f"{', '.join(supported)} checkpoints")
    return model_type


def load_ar_source(request: ConvertRequest, supported: Iterable[str], target: str) -> ArSource:
    """Check the output folder and the source's architecture (:func:`check_output`,
    :func:`source_model_type`), then load the causal LM and its tokenizer."""
    check_output(request)
    model_type = source_model_type(request.source, supported, target)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(request.source, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(request.source, use_safetensors=True,
                                                     trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise DllmError(f"cannot load {request.source} as a causal LM with its tokenizer ({exc})") from None
    return ArSource(Path(request.source), model_type, model.eval(), tokenizer, len(tokenizer))


def add_special_tokens(tokenizer: Any, tokens: Mapping[str, str]) -> list[str]:
    """Add ``tokens`` (role -> token string, e.g. ``{"mask": "<|mask|>"}``) for the roles the
    tokenizer has no token for; returns the tokens added, in the order given."""
    added: list[str] = []
    for role, token in tokens.items():
        if getattr(tokenizer, f"{role}_token_id") is None:
            tokenizer.add_special_tokens({f"{role}_token": token})
            added.append(token)
    return added


def default_pad_to_eos(tokenizer: Any) -> None:
    """A tokenizer without a pad token pads with EOS; one with neither is an error."""
    if tokenizer.pad_token_id is not None:
        return
    if tokenizer.eos_token_id is None:
        raise DllmError("the tokenizer has neither a pad nor an EOS token; set one before converting")
    tokenizer.pad_token = tokenizer.eos_token


def mean_resized(matrix: Any, rows: int, known: int, fresh: Iterable[int]) -> Any:
    """``matrix`` [V, D] grown (or cut) to [rows, D]; rows ``fresh`` and every row >= V hold the
    mean of rows ``0 .. known - 1``."""
    import torch

    grown = torch.empty((rows, matrix.shape[1]), dtype=matrix.dtype)  # [rows, D]
    kept = min(rows, matrix.shape[0])
    grown[:kept] = matrix[:kept]
    mean = matrix[:known].float().mean(dim=0).to(matrix.dtype)  # [D]
    grown[sorted(set(fresh) | set(range(matrix.shape[0], rows)))] = mean
    return grown


def grown_state_dict(source: ArSource, added: list[str]) -> tuple[dict[str, Any], VocabularyGrowth]:
    """The source model's tensors by name, with the input embedding and output head grown to
    V' = max(len(tokenizer), V) rows (:func:`mean_resized` over the n known tokens, for the
    ``added`` tokens and every row past V). A tied head appears once, under the first name."""
    model, tokenizer = source.model, source.tokenizer
    embedding = model.get_input_embeddings().weight  # [V, D]
    head = model.get_output_embeddings().weight  # [V, D] (the same tensor when tied)
    fresh = tokenizer.convert_tokens_to_ids(added)
    rows = max(len(tokenizer), embedding.shape[0])
    state: dict[str, Any] = {}
    seen: set[int] = set()
    for name, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) in seen:  # a tied duplicate, e.g. lm_head.weight is embed_tokens.weight
            continue
        seen.add(id(tensor))
        if tensor is embedding or tensor is head:
            tensor = mean_resized(tensor.detach(), rows, source.known_tokens, fresh)
        state[name] = tensor.detach()
    initialised = sorted(set(fresh) | set(range(embedding.shape[0], rows)))
    return state, VocabularyGrowth(rows, initialised)


def _listed(names: list[str]) -> str:
    return ", ".join(names[:4]) + (" ..." if len(names) > 4 else "")


def assign_weights(model: Any, state: dict[str, Any], target: str) -> None:
    """Give ``model`` (built on the meta device: shapes only) the tensors of ``state`` by name.

    Every name must exist on both sides with the same shape; ``target`` names the model in the
    errors (e.g. ``"A2DQwen3LMHeadModel"``).
    """
    expected = model.state_dict()
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        raise DllmError(f"{target} has no place for {_listed(unexpected)}; converting would change what "
                        "the model computes")
    missing = sorted(set(expected) - set(state))
    if missing:
        raise DllmError(f"the source has no {_listed(missing)}; its layout differs from {target}'s")
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise DllmError(f"{name}: the source has shape {list(tensor.shape)}, {target} "
                            f"{list(expected[name].shape)}")
    model.load_state_dict(state, strict=True, assign=True)


def write_converted(model: Any, tokenizer: Any, request: ConvertRequest, info: CheckpointInfo) -> Path:
    """Write the converted model, its tokenizer and ``dllm.json`` to ``request.output`` atomically
    (a temporary sibling folder renamed into place)."""
    check_output(request)
    return save_checkpoint(model, tokenizer, request.output, info)
