"""One inference session: a loaded checkpoint and its generator, for every front end.

``dllm sample``, ``dllm chat``, ``dllm eval`` (the lm-eval adapter), the demo and the server
are thin users of :class:`InferenceSession`, so the same prompt with the same settings and seed
gives the same tokens through each of them. The session owns

* the checkpoint: model (eval mode), tokenizer adapted to its family, special tokens, family,
  ``dllm.json`` (a LoRA adapter folder works too);
* the generator and its defaults, lowest precedence first: the family's
  ``generator_defaults``, what the generator reads from ``dllm.json`` besides its section
  (:meth:`~dllm_core.generation.contract.Generator.checkpoint_defaults`), the checkpoint's
  ``generation_config.json``, the generator section of ``dllm.json``, then the caller's
  settings. Defaults saved for another generator carry over by name where the chosen one takes
  the name, and by role (answer length, block, steps) where it names them differently;
* prompts: chat rendering, encoding (special tokens added unless the text already starts with
  BOS), left padding, the context check (or cutting prompts on the left to fit);
* batching (longest prompts first, each batch seeded from the run seed and its own tokens, so a
  row's answer does not depend on which batch or process ran it), stop-token cutting and
  streaming callbacks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from dllm_core.checkpoint import CheckpointInfo, adapter_base, load_for_inference, locate_checkpoint, resolve_family
from dllm_core.errors import DllmError
from dllm_core.family import ModelFamily
from dllm_core.generation.contract import ROLES, Generation, Generator, StepCallback
from dllm_core.model_config import max_positions
from dllm_core.registry import get_registry
from dllm_core.special_tokens import SpecialTokens

#: context assumed when neither the model config nor the tokenizer gives one
DEFAULT_MAX_LENGTH = 2048
Message = dict[str, str]


def content_seed(seed: int, *token_lists: Sequence[int]) -> int:
    """A 63-bit seed from the run ``seed`` and token lists (a request, or a batch of prompts)."""
    digest = hashlib.blake2b(json.dumps([seed, *map(list, token_lists)]).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def generation_config_defaults(folder: Path, generator: Generator) -> dict[str, Any]:
    """The entries of ``folder/generation_config.json`` that ``generator`` takes as parameters.

    Keys it does not know (``bos_token_id``, ``transformers_version``, ...) and null values are
    left out; a folder without the file gives ``{}``, an unreadable file an error. A nested
    section (transformers saves a sampler's settings as an object, e.g. DiffusionGemma's
    ``sampler_config: {"entropy_bound": ...}``) gives the keys ``generator`` takes too; a top-level
    key wins over a nested one of the same name.
    """
    path = Path(folder) / "generation_config.json"
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DllmError(f"cannot read {path}: {exc}; fix or delete it") from None
    accepted = set(generator.parameter_names())
    found = {key: value for section in values.values() if isinstance(section, dict)
             for key, value in section.items() if key in accepted and value is not None}
    found.update({key: value for key, value in values.items() if key in accepted and value is not None})
    return found


def carry_over(values: Mapping[str, Any], source: Generator | None, target: Generator) -> dict[str, Any]:
    """``values`` saved for ``source`` as ``target``'s parameters: by name where ``target`` takes
    the name, else by role (``source``'s ``max_new_tokens`` becomes ``target``'s ``gen_length``)."""
    accepted = set(target.parameter_names())
    carried = {key: value for key, value in values.items() if key in accepted}
    if source is not None:
        for role in ROLES:
            old, new = source.roles.name(role), target.roles.name(role)
            if old in values and new is not None and new not in carried:
                carried[new] = values[old]
    return carried


def model_max_length(config: Any, tokenizer: Any) -> int:
    """The longest sequence the model takes: its config's position limit, else the tokenizer's."""
    positions = max_positions(config)
    if positions is not None:
        return positions
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else DEFAULT_MAX_LENGTH


@dataclass
class Completion:
    """One answer.

    Attributes:
        text: the decoded answer (special tokens skipped).
        token_ids: the answer's tokens, cut before the first stop token (EOS / end of turn).
        nfe: forward calls of the batch the answer was generated in.
        generation: the generator's record of that batch (for ``show_row``).
        row: this answer's row in ``generation``.
    """

    text: str
    token_ids: list[int]
    nfe: int
    generation: Generation | None = field(default=None, repr=False)
    row: int = 0


@dataclass
class InferenceSession:
    """A loaded checkpoint ready to generate (see the module doc)."""

    model: Any
    tokenizer: Any
    special: SpecialTokens
    family: ModelFamily
    generator: Generator
    defaults: dict[str, Any] = field(default_factory=dict)
    max_length: int = DEFAULT_MAX_LENGTH
    checkpoint: Path | None = None

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def load(cls, checkpoint: Path | str | SessionPlan, *, generator: str | None = None, wanted: Iterable[str] = (),
             dtype: Any = None, device: str | None = None, merge_adapter: bool = False,
             max_length: int | None = None) -> "InferenceSession":
        """Load ``checkpoint`` (a folder, LoRA adapter folder or hub id, or a :class:`SessionPlan`
        already made by :func:`plan_session`, whose choice ``generator`` and ``wanted`` then
        leave as it is) and choose the generator.

        Args:
            generator, wanted: see :func:`plan_session`.
            dtype: ``torch.dtype`` or its name (``"bfloat16"``); ``None``/``"auto"``: the checkpoint's.
            merge_adapter: fold a LoRA adapter into its base weights (faster forwards).
            max_length: context limit; default the model's.
        """
        plan = checkpoint if isinstance(checkpoint, SessionPlan) else plan_session(checkpoint, generator, wanted)
        model, tokenizer, special = load_for_inference(plan.path, plan.family, dtype=_dtype(dtype), device=device,
                                                       merge_adapter=merge_adapter)
        defaults = generator_defaults(plan.path, plan.family, plan.info, plan.generator)
        return cls(model, tokenizer, special, plan.family, plan.generator, defaults,
                   max_length or model_max_length(model.config, tokenizer), plan.path)

    def with_generator(self, name: str) -> "InferenceSession":
        """The same loaded checkpoint with generator ``name`` and that generator's defaults."""
        generator = get_registry().generators.get(name)
        defaults = self.defaults
        if self.checkpoint is not None:
            defaults = generator_defaults(self.checkpoint, self.family, checkpoint_info(self.checkpoint), generator)
        return replace(self, generator=generator, defaults=defaults)

    @property
    def device(self) -> Any:
        return self.model.device

    # -- prompts -----------------------------------------------------------------------------
    def render_chat(self, messages: Sequence[Message]) -> str:
        """The chat template applied to ``messages``, ending with the assistant turn's opening."""
        if getattr(self.tokenizer, "chat_template", None) is None:
            raise DllmError(f"the {self.family.name} tokenizer has no chat template; use `dllm sample` "
                            "for plain prompts or save a tokenizer with a chat_template")
        return self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)

    def encode(self, text: str, add_special_tokens: bool | None = None) -> list[int]:
        """Token ids of ``text``; special tokens are added unless it already starts with BOS."""
        if add_special_tokens is None:
            bos = self.tokenizer.bos_token
            add_special_tokens = not (bos and text.startswith(bos))
        return self.tokenizer.encode(text, add_special_tokens=add_special_tokens)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def pad_left(self, rows: Sequence[Sequence[int]]) -> tuple[Any, Any]:
        """``[B, W]`` ids left-padded with the pad token, and the ``[B, W]`` attention mask."""
        import torch

        width = max(len(row) for row in rows)
        pad = self.special.pad_token_id if self.special.pad_token_id is not None else 0
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for index, row in enumerate(rows):
            if row:
                ids[index, width - len(row):] = torch.tensor(list(row), dtype=torch.long)
                mask[index, width - len(row):] = 1
        return ids.to(self.device), mask.to(self.device)

    # -- parameters --------------------------------------------------------------------------
    def params(self, roles: Mapping[str, Any] | None = None, values: Mapping[str, Any] | None = None) -> Any:
        """The generator's parameters: the defaults, then ``values`` (by parameter name), then
        ``roles`` (``{"length": 64, "block": 32, "steps": 64}``); the mask id is the checkpoint's
        unless given. A role the generator does not have is a :class:`DllmError`."""
        merged = {**self.defaults, **(values or {})}
        for role, value in (roles or {}).items():
            merged[self.generator.role_parameter(role)] = value
        mask_name = self.generator.roles.mask_id
        if mask_name is not None and merged.get(mask_name) is None:
            merged[mask_name] = self.special.mask_token_id
        return self.generator.make_params(merged)

    def answer_length(self, params: Any) -> int | None:
        """Tokens each answer takes in the context (``None`` when the generator does not say)."""
        name = self.generator.roles.length
        value = getattr(params, name, None) if name is not None else None
        return value if isinstance(value, int) else None

    def fit(self, rows: Sequence[Sequence[int]], params: Any, *, cut_prompts: bool = False) -> list[list[int]]:
        """``rows`` checked against the context: prompt plus answer must fit ``max_length``.

        With ``cut_prompts`` longer prompts lose tokens on the left (lm-eval's convention);
        otherwise they are a :class:`DllmError` naming the fix.
        """
        answer = self.answer_length(params) or 0
        if not cut_prompts:
            longest = max(len(row) for row in rows)
            if longest + answer > self.max_length:
                raise DllmError(f"prompt of {longest} tokens plus {answer} generated tokens exceeds the model's "
                                f"context of {self.max_length}; shorten the prompt or lower --gen-length")
            return [list(row) for row in rows]
        room = self.max_length - answer
        if room < 1:
            raise DllmError(f"an answer of {answer} tokens leaves no room for a prompt in the model's context of "
                            f"{self.max_length}; lower the answer length (max_gen_toks)")
        return [list(row)[len(row) - room:] if len(row) > room else list(row) for row in rows]

    # -- generation --------------------------------------------------------------------------
    def generate(self, rows: Sequence[Sequence[int]], params: Any, *, seed: int = 0,
                 batch_size: int | None = None, cut_prompts: bool = False, callback: StepCallback | None = None,
                 options: Mapping[str, Any] | None = None) -> list[Completion]:
        """An answer for each token row, in order, through the generator.

        Rows run in batches of ``batch_size`` (all at once when ``None``), longest first; each
        batch is seeded with :func:`content_seed` of ``seed`` and its rows.
        """
        if not rows:
            return []
        rows = self.fit(rows, params, cut_prompts=cut_prompts)
        order = sorted(range(len(rows)), key=lambda index: -len(rows[index]))
        size = batch_size or len(rows)
        completions: list[Completion | None] = [None] * len(rows)
        for first in range(0, len(order), size):
            batch = order[first:first + size]
            prompts = [rows[index] for index in batch]
            generation = self.generator.complete(self, prompts, params, seed=content_seed(seed, *prompts),
                                                 callback=callback, options=options or {})
            for row, index in enumerate(batch):
                ids = self.cut_at_stop(generation.rows[row])
                completions[index] = Completion(self.decode(ids), ids, generation.nfe, generation, row)
        return completions  # type: ignore[return-value]

    def complete(self, prompts: Sequence[str], params: Any, *, chat: bool = False, seed: int = 0,
                 callback: StepCallback | None = None, options: Mapping[str, Any] | None = None) -> list[Completion]:
        """An answer to each text prompt (``chat``: each as one user turn through the template)."""
        texts = [self.render_chat([{"role": "user", "content": p}]) if chat else p for p in prompts]
        return self.generate([self.encode(text) for text in texts], params, seed=seed, callback=callback,
                             options=options)

    def reply(self, messages: Sequence[Message], params: Any, *, seed: int = 0,
              callback: StepCallback | None = None, options: Mapping[str, Any] | None = None) -> Completion:
        """The assistant's next turn after ``messages``."""
        rows = [self.encode(self.render_chat(messages))]
        return self.generate(rows, params, seed=seed, callback=callback, options=options)[0]

    def cut_at_stop(self, generated: Sequence[int]) -> list[int]:
        """``generated`` up to its first stop token (EOS / end of turn)."""
        stops = set(self.special.stop_token_ids())
        for position, token in enumerate(generated):
            if token in stops:
                return list(generated[:position])
        return list(generated)


@dataclass(frozen=True)
class SessionPlan:
    """What a session will load, decided before any weights are read (so that front ends can
    refuse bad settings at once): the checkpoint folder, its family, ``dllm.json`` and generator."""

    path: Path
    family: ModelFamily
    info: CheckpointInfo | None
    generator: Generator


def plan_session(checkpoint: Path | str, generator: str | None = None, wanted: Iterable[str] = ()) -> SessionPlan:
    """Locate ``checkpoint`` and choose its generator: ``generator`` by name, else ``dllm.json``'s,
    else the family's default, or the family's fast generator when the default one lacks a
    parameter in ``wanted`` (the parameter names the caller will set)."""
    path = locate_checkpoint(checkpoint)
    family = resolve_family(path)
    info = checkpoint_info(path)
    check_block_size(path, info)
    return SessionPlan(path, family, info, choose_generator(family, info, generator, set(wanted)))


def check_block_size(folder: Path, info: CheckpointInfo | None) -> None:
    """Refuse a checkpoint whose files disagree on its block size: the ``block_size`` its
    objective trained (``dllm.json``), its saved generator's block parameter (``dllm.json``) and
    a ``block_size`` / ``block_length`` field of ``config.json``, whichever are present."""
    sizes: dict[str, Any] = {}
    if info is not None:
        if "block_size" in info.objective:
            sizes["dllm.json objective.block_size"] = info.objective["block_size"]
        generators = get_registry().generators
        preset = info.generator.get("preset")
        block = generators.get(str(preset)).roles.block if preset in generators else None
        if block is not None and block in info.generator:
            sizes[f"dllm.json generator.{block}"] = info.generator[block]
    config_file = Path(folder) / "config.json"
    if config_file.is_file():
        config = json.loads(config_file.read_text())
        sizes.update({f"config.json {key}": config[key] for key in ("block_size", "block_length") if key in config})
    if len(set(sizes.values())) > 1:
        found = ", ".join(f"{where} = {size}" for where, size in sizes.items())
        raise DllmError(f"{folder}: the block size is not the same everywhere ({found}); set every one of them to "
                        "the block size the model was trained with")


def checkpoint_info(folder: Path) -> CheckpointInfo | None:
    """``dllm.json`` of ``folder``, or of its base model when ``folder`` is a LoRA adapter."""
    info = CheckpointInfo.read(folder)
    base = adapter_base(folder)
    return info if info is not None or base is None else CheckpointInfo.read(base)


def choose_generator(family: ModelFamily, info: CheckpointInfo | None, name: str | None,
                     wanted: set[str]) -> Generator:
    """The generator called ``name``, else ``dllm.json``'s, else the family's default, switching
    to the family's fast generator when only that one takes every ``wanted`` parameter."""
    generators = get_registry().generators
    if name is not None:
        return generators.get(name)
    chosen = generators.get(str(info.generator.get("preset")) if info and info.generator.get("preset")
                            else family.default_generator)
    if wanted - set(chosen.parameter_names()) and family.fast_generator is not None:
        fast = generators.get(family.fast_generator)
        if not wanted - set(fast.parameter_names()):
            return fast
    return chosen


def generator_defaults(folder: Path, family: ModelFamily, info: CheckpointInfo | None,
                       generator: Generator) -> dict[str, Any]:
    """The chosen generator's defaults (precedence in the module doc)."""
    generators = get_registry().generators
    default = generators.get(family.default_generator) if family.default_generator in generators else None
    defaults = carry_over(family.generator_defaults, default, generator)
    defaults.update(generator.checkpoint_defaults(info))
    defaults.update(generation_config_defaults(folder, generator))
    saved = dict(info.generator) if info is not None else {}
    saved_name = saved.pop("preset", None)
    if saved:
        source = generators.get(saved_name) if saved_name in generators else default
        defaults.update(carry_over(saved, source, generator))
    return defaults


def _dtype(dtype: Any) -> Any:
    """A ``torch.dtype`` for a name (``"bfloat16"``); ``None`` and ``"auto"`` keep the checkpoint's."""
    if dtype is None or dtype == "auto" or not isinstance(dtype, str):
        return None if dtype == "auto" else dtype
    import torch

    value = getattr(torch, dtype, None)
    if not isinstance(value, torch.dtype):
        raise DllmError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
    return value
