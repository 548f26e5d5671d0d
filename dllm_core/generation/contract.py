"""The generator contract: what every sampler declares and the one entry point it implements.

A *generator* turns token prompts into answers. The four masked-diffusion presets of the engine
(``llada``, ``fastdllm``, ``dream``, ``mdlm``), Edit Flows and any third-party sampler are
generators; ``dllm sample``, ``dllm chat``, ``dllm eval``, the demo and the server call only
what this module defines, through :class:`dllm_core.session.InferenceSession`.

A generator declares

* ``params_class``: a dataclass of its parameters (types, defaults, and ``help`` in each field's
  metadata), named as in the reference it reproduces;
* ``roles``: which parameters play the generic roles the front ends set (answer length, block
  length, number of steps, mask id), so ``--gen-length`` or lm-eval's ``max_gen_toks`` reach
  ``gen_length`` of one generator and ``max_new_tokens`` of another;
* ``ragged_rows``: whether it takes prompts of different lengths as they are (it places each
  answer after its own prompt); otherwise the session left-pads the batch;
* ``cli_options``: extra options of ``dllm sample`` / ``dllm chat`` it understands (e.g. Edit
  Flows' ``--show-edits``), passed back to it as ``options``;

and implements ``complete(session, prompts, params, ...) -> Generation``. Optional hooks:
``checkpoint_defaults`` (defaults read from the checkpoint's ``dllm.json``), ``show_row`` and
``finish`` (what ``dllm sample`` prints per answer and at the end).

Registered under the ``generators`` registry kind (hook ``dllm_register_generators``); the
registry refuses anything that is not a :class:`Generator`. Importing this module is cheap.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Collection, Mapping, Sequence

from dllm_core.errors import DllmError, did_you_mean

if TYPE_CHECKING:
    from dllm_core.checkpoint import CheckpointInfo
    from dllm_core.session import InferenceSession

#: the generic roles a front end can set without knowing a generator's own parameter names
ROLES = ("length", "block", "steps", "mask_id")


@dataclass(frozen=True)
class ParameterRoles:
    """Which parameter of a generator plays each generic role (``None``: it has none).

    Attributes:
        length: tokens to generate per answer (``--gen-length``, lm-eval ``max_gen_toks``).
        block: semi-autoregressive block length (``--block-length``).
        steps: denoising steps over the whole answer (``--steps``).
        mask_id: the mask token id; the session fills it from the checkpoint's special tokens.
    """

    length: str | None = None
    block: str | None = None
    steps: str | None = None
    mask_id: str | None = None

    def name(self, role: str) -> str | None:
        """The parameter name of ``role`` (one of :data:`ROLES`)."""
        if role not in ROLES:
            raise ValueError(f"unknown parameter role {role!r}; roles: {', '.join(ROLES)}")
        return getattr(self, role)


@dataclass(frozen=True)
class CliOption:
    """An extra ``dllm sample`` / ``dllm chat`` option a generator understands.

    Attributes:
        flag: the option, e.g. ``"--show-edits"``; its value reaches the generator's hooks as
            ``options[dest]`` (``--show-edits`` -> ``show_edits``).
        help: one line for ``--help``.
        type: converter of the option's value (e.g. ``pathlib.Path``); ``None``: a switch.
        metavar: the value's name in ``--help``.
    """

    flag: str
    help: str
    type: Callable[[str], Any] | None = None
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass
class Generation:
    """What :meth:`Generator.complete` returns for a batch of ``B`` prompts.

    Attributes:
        rows: per row, the generated tokens after its prompt (stop tokens included: the session
            cuts answers at the first one), ``B`` lists of ints.
        nfe: forward calls of the model for the whole batch.
        traces: per row, whatever the generator recorded for ``show_row`` (denoising frames,
            edit histories), or ``None`` when nothing was recorded.
        answer_starts: per row, the canvas column where ``rows[row]`` begins in the ``tokens``
            and ``committed`` tensors a step ``callback`` receives
            (:class:`~dllm_core.generation.output.StepInfo`), or
            ``None`` when the generator's steps do not commit tokens in place (Edit Flows).
    """

    rows: list[list[int]]
    nfe: int
    traces: list[Any] | None = None
    answer_starts: list[int] | None = None


StepCallback = Callable[[Any], None]


class Generator(ABC):
    """The contract of a sampler (see the module doc). Subclasses set the class attributes."""

    name: str
    description: str
    params_class: type
    roles: ParameterRoles = ParameterRoles()
    ragged_rows: bool = False
    cli_options: tuple[CliOption, ...] = ()
    #: each of its ``steps`` commits masked answer tokens (masked and block diffusion), so steps
    #: beyond the answer's length are forward calls that commit nothing (:meth:`fit_answer`)
    steps_unmask_answer: ClassVar[bool] = False

    # -- parameters --------------------------------------------------------------------------
    def parameter_names(self) -> list[str]:
        """The fields of ``params_class``, in declaration order."""
        return [f.name for f in dataclasses.fields(self.params_class)]

    def unknown_parameter(self, values: Mapping[str, Any]) -> str | None:
        """The complaint about the first name in ``values`` that is no parameter (``None``: all are)."""
        accepted = self.parameter_names()
        for key in values:
            if key not in accepted:
                return (f"generator '{self.name}' has no parameter '{key}'.{did_you_mean(key, accepted)} "
                        f"It takes: {', '.join(accepted)}.")
        return None

    def make_params(self, values: Mapping[str, Any]) -> Any:
        """``params_class(**values)``; an unknown name or a rejected value is one clear line."""
        problem = self.unknown_parameter(values)
        if problem is not None:
            raise DllmError(problem)
        try:
            return self.params_class(**values)
        except (TypeError, ValueError) as exc:
            raise DllmError(f"generator '{self.name}': {exc}") from None

    def fit_answer(self, params: Any, given: Collection[str] = ()) -> Any:
        """The front ends' rules on answer length and steps (``dllm sample``, ``dllm chat``), on top
        of the ranges ``params_class`` checks; ``given`` names the parameters the user set.

        * An answer length of 0 is refused (the Python API keeps ``gen_length=0`` for LLaDA: it
          fills only the masks inside a prompt).
        * With :attr:`steps_unmask_answer`, more steps than answer tokens only add forward calls
          that commit nothing (the references run them: ``generate()`` does not apply this rule).
          Steps the user gave are then refused, naming both numbers and the fix; a default (the
          generator's, the family's or the checkpoint's, e.g. Dream's 128 steps) is lowered to
          the answer length, which every block count divides.

        Returns ``params``, or a copy with fewer steps.
        """
        length_name, steps_name = self.roles.length, self.roles.steps
        length = getattr(params, length_name) if length_name is not None else None
        if not isinstance(length, int):  # e.g. Dream's max_new_tokens=None: set from max_length later
            return params
        if length < 1:
            raise DllmError(f"generator '{self.name}': {length_name} must be at least 1, got {length}; an answer "
                            "needs a token: pass --gen-length 1 or more")
        steps = getattr(params, steps_name) if steps_name is not None and self.steps_unmask_answer else None
        if not isinstance(steps, int) or steps <= length:
            return params
        if steps_name in given:
            raise DllmError(f"generator '{self.name}': {steps_name} ({steps}) is more than the {length} answer tokens "
                            f"({length_name}), and every step past the last token is a forward call that commits "
                            f"nothing; pass --steps {length} or fewer, or --gen-length {steps} or more")
        return dataclasses.replace(params, **{steps_name: length})

    def role_parameter(self, role: str) -> str:
        """The parameter playing ``role``; a generator without one is a clear error."""
        name = self.roles.name(role)
        if name is None:
            raise DllmError(f"generator '{self.name}' has no {role.replace('_', ' ')} parameter; "
                            f"its parameters: {', '.join(self.parameter_names())}")
        return name

    def checkpoint_defaults(self, info: CheckpointInfo | None) -> dict[str, Any]:
        """Defaults this generator reads from a checkpoint's ``dllm.json`` besides its generator
        section (e.g. what the model was trained with); they rank below that section."""
        return {}

    # -- generation --------------------------------------------------------------------------
    @abstractmethod
    def complete(self, session: InferenceSession, prompts: Sequence[Sequence[int]], params: Any, *,
                 seed: int = 0, callback: StepCallback | None = None,
                 options: Mapping[str, Any] | None = None) -> Generation:
        """Generate an answer for each token row of ``prompts`` (left-pad them with
        :meth:`InferenceSession.pad_left` unless ``ragged_rows``).

        Args:
            session: the loaded checkpoint (model, tokenizer, special tokens, family).
            prompts: ``B`` prompts as token ids.
            params: an instance of ``params_class``, mask id already filled.
            seed: seed of every random draw of this call (same seed, same answers).
            callback: called after every step with the generator's step record (the engine's
                :class:`~dllm_core.generation.output.StepInfo` for masked diffusion).
            options: values of ``cli_options`` (by ``dest``), e.g. ``{"show_edits": True}``.
        """

    # -- presentation (dllm sample) ---------------------------------------------------------
    def show_row(self, session: InferenceSession, generation: Generation, row: int,
                 options: Mapping[str, Any]) -> None:
        """Print what was recorded for ``row`` before its answer (default: nothing)."""

    def finish(self, session: InferenceSession, generation: Generation, options: Mapping[str, Any]) -> list[str]:
        """Work after all answers are printed (e.g. write an animation); lines to print."""
        return []


def option_values(generator: Generator, given: Mapping[str, Any]) -> dict[str, Any]:
    """The values in ``given`` of ``generator``'s own CLI options, by ``dest``."""
    return {option.dest: given[option.dest] for option in generator.cli_options if option.dest in given}


def check_options(generator: Generator, given: Mapping[str, Any], every: Sequence[CliOption]) -> None:
    """A generator-specific option set for a generator that does not declare it is an error."""
    own = {option.dest for option in generator.cli_options}
    for option in every:
        if option.dest not in own and given.get(option.dest) not in (None, False):
            raise DllmError(f"{option.flag} is not an option of generator '{generator.name}'; pick a generator "
                            f"that has it with --preset (see `dllm list generators`)")


def unique_options(generators: Sequence[Generator]) -> list[CliOption]:
    """The CLI options of ``generators``, each flag once (in first-seen order)."""
    seen: dict[str, CliOption] = {}
    for generator in generators:
        for option in generator.cli_options:
            seen.setdefault(option.flag, option)
    return list(seen.values())


#: value rules for :func:`check_ranges`: (what a value must be, the test it passes; NaN passes none)
COUNT = ("at least 1", lambda value: value >= 1)
POSITIVE = ("greater than 0", lambda value: value > 0)
NON_NEGATIVE = ("0 or more", lambda value: value >= 0)
PROBABILITY = ("between 0 and 1", lambda value: 0 <= value <= 1)
OPEN_PROBABILITY = ("greater than 0 and at most 1", lambda value: 0 < value <= 1)


def check_ranges(params: Any, **rules: tuple[str, Callable[[Any], bool]]) -> None:
    """Validate a parameter dataclass (from its ``__post_init__``): raise a one-line
    ``ValueError`` naming the first field whose value breaks its rule (``None`` is unset and
    passes), e.g. ``steps=COUNT, threshold=PROBABILITY``."""
    for name, (wanted, holds) in rules.items():
        value = getattr(params, name)
        if value is not None and not holds(value):
            raise ValueError(f"{name} must be {wanted}, got {value!r}")


def params_field(default: Any, help: str) -> Any:
    """A dataclass field with ``help`` in its metadata (for ``params_class`` declarations)."""
    return field(default=default, metadata={"help": help})


__all__ = [
    "ROLES",
    "CliOption",
    "Generation",
    "Generator",
    "ParameterRoles",
    "COUNT",
    "NON_NEGATIVE",
    "OPEN_PROBABILITY",
    "POSITIVE",
    "PROBABILITY",
    "StepCallback",
    "check_options",
    "check_ranges",
    "option_values",
    "params_field",
    "unique_options",
]
