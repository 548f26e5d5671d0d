"""The settings of the generation loop: which part does each job."""

from __future__ import annotations

from dataclasses import dataclass, field

from dllm_core.generation.cache import CacheMode
from dllm_core.generation.commit import CommitRule, TopKCommit
from dllm_core.generation.confidence import ConfidenceScore, ProbabilityConfidence
from dllm_core.generation.tokens import GumbelChooser, TokenChooser
from dllm_core.generation.transfer import TransferSchedule


@dataclass(frozen=True)
class GenerationConfig:
    """Everything the loop needs besides the model and the canvas.

    Attributes:
        mask_token_id: id of the mask token.
        transfer: how many tokens each step of a block commits (and how many steps it has).
        block_length: semi-autoregressive block size; ``None`` for one block over each region.
        tokens: token choice (greedy / Gumbel / categorical, top-k, top-p).
        confidence: how positions are ranked.
        commit: which candidates a step commits.
        block_start_commit: a different rule for each block's first step (Fast-dLLM's cached
            Dream commits the block's first position there), or ``None``.
        cfg_scale: classifier-free guidance scale (0 = off).
        cfg_keep_tokens: ids the unconditional guidance pass keeps where they were given
            (dllm's MDLM ``cfg_keep_tokens``); every other given token is masked there.
        suppress_tokens: ids that are never generated (their logits are set to -inf).
        cache: key/value cache policy, ``"none"``, ``"prefix"`` or ``"dual"``.
        cache_refresh: with a cache, every ``cache_refresh``-th step of a block is a whole-canvas
            forward that records the cache again, as the block's first step does (0: only the
            first; Fast-dLLM). The cached keys/values of the positions outside the query were
            computed when the tokens committed since were still masks; a refresh bounds how
            stale they get (with one block over the whole answer, the prompt's are computed
            over an all-mask answer and never renewed otherwise).
        slice_logits: run the LM head only on the positions a step needs (when supported).
        static_shapes: every model call of a block has the same shapes and reads nothing back
            to the host (the LM head over the whole query window, fixed cached queries; see
            :mod:`~dllm_core.generation.runner`), so ``torch.compile`` and CUDA graphs apply.
        compile: ``torch.compile`` the steps' model call with this mode or backend
            (:mod:`~dllm_core.generation.compiled`, e.g. ``"reduce-overhead"``); implies
            ``static_shapes``. ``None``: eager.
        stop_at_eos: stop after a block once every row holds ``eos_token_id`` in its region;
            the masks left are filled with it.
        eos_token_id: the end-of-sequence id (needed by ``stop_at_eos``).
        suppress_mask_token: never choose the mask id. Off, a position whose chosen token is
            the mask id stays masked when selected (LLaDA's and Dream's references).
        carry_over_masks: candidates are all masked positions before the block's end, not only
            the block's, whenever a call sees the whole canvas (LLaDA's ``generate``: a position
            left masked by a chosen mask id can be filled during a later block).
        prefix_noise_draws: times the token noise is drawn for each prefix-cached call, all but
            the last discarded (2 in Fast-dLLM's ``generate_with_prefix_cache``).
    """

    mask_token_id: int
    transfer: TransferSchedule
    block_length: int | None = None
    tokens: TokenChooser = field(default_factory=GumbelChooser)
    confidence: ConfidenceScore = field(default_factory=ProbabilityConfidence)
    commit: CommitRule = field(default_factory=TopKCommit)
    block_start_commit: CommitRule | None = None
    cfg_scale: float = 0.0
    cfg_keep_tokens: tuple[int, ...] = ()
    suppress_tokens: tuple[int, ...] = ()
    cache: CacheMode = "none"
    cache_refresh: int = 0
    slice_logits: bool = True
    static_shapes: bool = False
    compile: str | None = None
    stop_at_eos: bool = False
    eos_token_id: int | None = None
    suppress_mask_token: bool = True
    carry_over_masks: bool = False
    prefix_noise_draws: int = 1

    def __post_init__(self) -> None:
        if self.block_length is not None and self.block_length < 1:
            raise ValueError(f"block_length must be >= 1, got {self.block_length}")
        if self.cache not in ("none", "prefix", "dual"):
            raise ValueError(f"cache must be 'none', 'prefix' or 'dual', got {self.cache!r}")
        if self.cache_refresh < 0:
            raise ValueError(f"cache_refresh must be >= 0, got {self.cache_refresh}")
        if self.stop_at_eos and self.eos_token_id is None:
            raise ValueError("stop_at_eos needs eos_token_id (the model config has none)")

    def full_forward(self, step: int) -> bool:
        """Whether ``step`` of a block runs over the whole canvas (and records a cache)."""
        return step == 0 or (self.cache_refresh > 0 and step % self.cache_refresh == 0)
