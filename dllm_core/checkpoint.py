"""Checkpoints: a plain Hugging Face folder plus ``dllm.json``, written atomically.

A dllm checkpoint is what ``save_pretrained`` writes (``config.json``, ``model.safetensors``,
tokenizer files) plus ``dllm.json`` recording the family, objective, schedule and generator
defaults, so ``dllm sample``/``chat``/``eval`` need only the path. A LoRA adapter folder
(``adapter_config.json``) is accepted anywhere a checkpoint is.

Folders are written under a temporary name beside the target and renamed into place, so a
killed process never leaves a half-written checkpoint. Where a checkpoint's files are swapped into
a folder that holds more (a training run's output folder), :func:`replace_checkpoint_files` marks
the folder incomplete (``.dllm-incomplete``) for the duration of the swap, and a folder carrying
that mark is refused (:func:`check_complete`). Saved files get the permissions the umask allows,
as any other file would. Weights load from safetensors only and never with remote code.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from dllm_core import __version__
from dllm_core.family import ModelFamily
from dllm_core.errors import DllmError, did_you_mean
from dllm_core.registry import get_registry, load_reference

DLLM_JSON = "dllm.json"
#: present while a checkpoint's files are being swapped into a folder; a folder carrying it is incomplete
INCOMPLETE_MARKER = ".dllm-incomplete"
ADAPTER_CONFIG = "adapter_config.json"
#: what is fetched for a hub id: configs, safetensors weights, tokenizer files; never code or pickles
HUB_FILE_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.tiktoken"]
#: files that make up a checkpoint (what a previous final save left, and is replaced as a whole)
CHECKPOINT_FILE_PATTERNS = (*HUB_FILE_PATTERNS, "README.md")


@dataclass
class CheckpointInfo:
    """The contents of ``dllm.json``.

    Attributes:
        family: registry name of the model family.
        objective: ``{"name": ..., **config}`` of the training objective (may be empty).
        schedule: ``{"name": ..., **parameters}`` of the noise schedule (may be empty).
        generator: ``{"preset": ..., **parameters}``: default sampling settings.
        dllm_version: the dllm-core version that wrote the file.
        extra: anything else a plugin wants to keep (e.g. ``{"backbone_family": "llada"}``).
    """

    family: str
    objective: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)
    dllm_version: str = __version__
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, folder: Path) -> None:
        (Path(folder) / DLLM_JSON).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, folder: Path) -> "CheckpointInfo | None":
        """``dllm.json`` of ``folder``, or ``None`` when the folder has none."""
        path = Path(folder) / DLLM_JSON
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise DllmError(f"{path} is not a valid dllm.json ({exc}); delete it or re-save the checkpoint") from None


@contextlib.contextmanager
def atomic_directory(target: Path | str) -> Iterator[Path]:
    """Yield a temporary folder beside ``target`` that replaces ``target`` only on success.

    On an exception the temporary folder is removed and ``target`` is left as it was.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as exc:
        raise DllmError(f"cannot write {target} ({exc.strerror or exc}); pick a folder you can write to, "
                        "on a disk with free space") from None
    staging.chmod(0o755)  # mkdtemp makes it private; a checkpoint is an ordinary folder
    try:
        yield staging
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, retired / target.name)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def save_checkpoint(model: Any, tokenizer: Any, target: Path | str, info: CheckpointInfo) -> Path:
    """Write ``model`` (safetensors), ``tokenizer`` and ``dllm.json`` to ``target`` atomically."""
    with atomic_directory(target) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(staging)
        info.write(staging)
        honour_umask(staging)
    return Path(target)


def honour_umask(folder: Path) -> None:
    """Give the files in ``folder`` the mode a plain ``open()`` would: ``0o666 & ~umask``.

    Some writers (safetensors) create their files readable by the owner only."""
    umask = os.umask(0o022)
    os.umask(umask)
    for path in Path(folder).iterdir():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o666 & ~umask)


def stale_checkpoint_files(folder: Path, keep: Iterable[str] = ()) -> list[Path]:
    """The files of a checkpoint saved earlier into ``folder`` (none when it holds no checkpoint):
    top-level files matching :data:`CHECKPOINT_FILE_PATTERNS`, except those named in ``keep``."""
    folder = Path(folder)
    markers = (DLLM_JSON, "config.json", ADAPTER_CONFIG, INCOMPLETE_MARKER)
    if not any((folder / name).exists() for name in markers):
        return []
    kept = set(keep)
    found = {path for pattern in CHECKPOINT_FILE_PATTERNS for path in folder.glob(pattern)}
    return sorted(path for path in found if path.is_file() and path.name not in kept)


def replace_checkpoint_files(staging: Path, target: Path, keep: Iterable[str] = ()) -> None:
    """Swap the checkpoint written into ``staging`` into ``target`` (a folder that may hold other
    things: ``checkpoint-N`` folders, logs), replacing the previous checkpoint's files as a whole.

    ``target`` carries :data:`INCOMPLETE_MARKER` from before the first file is touched until
    ``dllm.json`` (moved last) is in place, so a process killed mid-swap leaves a folder that is
    refused, never a mix of old and new files that loads. ``keep``: files of ``target`` that are
    no part of the checkpoint (run records, logs) and stay.
    """
    staging, target = Path(staging), Path(target)
    marker = target / INCOMPLETE_MARKER
    marker.write_text("a checkpoint was being saved here and the save did not finish\n")
    for path in stale_checkpoint_files(target, keep):
        path.unlink()
    for path in sorted(staging.iterdir(), key=lambda p: p.name == DLLM_JSON):  # dllm.json last
        os.replace(path, target / path.name)
    staging.rmdir()
    marker.unlink()


def check_complete(folder: Path) -> None:
    """Refuse a folder whose checkpoint save was interrupted (it carries :data:`INCOMPLETE_MARKER`)."""
    if (Path(folder) / INCOMPLETE_MARKER).exists():
        raise DllmError(f"{folder} holds an incomplete checkpoint: its save was interrupted, so its files may "
                        "come from two different saves. Train again into it (--resume continues from its "
                        "newest checkpoint-N), or load one of its checkpoint-N folders")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DllmError(f"cannot read {path}: {exc}") from None


def locate_checkpoint(name: Path | str) -> Path:
    """A local checkpoint folder for ``name``: the folder itself, or a Hugging Face hub id
    (``GSAI-ML/LLaDA-8B-Instruct``) fetched into the hub cache (safetensors, configs and
    tokenizer files only: no remote code, no pickled weights; the cache is used when offline).

    A name that looks like a local path (absolute, ``./``, ``~``, not ``owner/name``, or whose
    first part is a local folder, as ``runs/`` in ``runs/xx``) and does not exist is refused
    as a missing folder, with the closest sibling folder suggested; it never goes to the network."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    text = str(name)
    local = (path.exists() or text.count("/") != 1 or text.startswith((".", "/", "~"))
             or Path(text.split("/")[0]).is_dir())
    if local:
        raise DllmError(f"checkpoint folder {name} does not exist.{_sibling_hint(path)} Pass the folder holding "
                        "config.json, or a Hugging Face hub id (owner/name)")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(text, allow_patterns=HUB_FILE_PATTERNS))
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, gated repo, ...
        raise DllmError(f"{name} is no local folder and could not be fetched from the Hugging Face hub "
                        f"({type(exc).__name__}); download it first or check the name and network") from None


def _sibling_hint(path: Path) -> str:
    """`` Did you mean 'runs/x'?`` for the folder beside ``path`` closest to its name."""
    parent = path.parent
    if not parent.is_dir():
        return ""
    siblings = [str(child) for child in parent.iterdir() if child.is_dir() and not child.name.startswith(".")]
    return did_you_mean(str(path), siblings)


def adapter_base(folder: Path) -> Path | None:
    """For a LoRA adapter folder, the base model path it names; ``None`` for a full checkpoint."""
    config = folder / ADAPTER_CONFIG
    if not config.is_file():
        return None
    base = _read_json(config).get("base_model_name_or_path")
    if not base:
        raise DllmError(f"{config} names no base_model_name_or_path; re-save the adapter with its base model")
    return Path(base)


def resolve_family(folder: Path | str) -> ModelFamily:
    """The family that loads ``folder``: from ``dllm.json``, else ``config.json``'s model_type."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DllmError(f"checkpoint folder {folder} does not exist; pass the folder holding config.json")
    check_complete(folder)
    families = get_registry().families
    info = CheckpointInfo.read(folder)
    if info is not None:
        return families.get(info.family)
    base = adapter_base(folder)
    if base is not None:
        return resolve_family(base)
    config = folder / "config.json"
    if not config.is_file():
        raise DllmError(f"{folder} holds no config.json (nor dllm.json / adapter_config.json); "
                        "pass a Hugging Face model folder")
    model_type = _read_json(config).get("model_type")
    if not model_type:
        raise DllmError(f"{config} has no model_type; add one so dllm can tell which family loads it")
    return families.for_model_type(model_type)


def register_family_classes(family: ModelFamily) -> None:
    """Register the family's config/model classes with transformers' Auto classes (idempotent)."""
    if family.register_auto is not None:
        load_reference(family.register_auto)()


def load_model(folder: Path | str, family: ModelFamily | None = None, **from_pretrained: Any) -> Any:
    """Load the masked-LM model of a checkpoint or LoRA adapter folder (safetensors, no remote code)."""
    folder = Path(folder)
    check_complete(folder)
    family = family or resolve_family(folder)
    register_family_classes(family)
    model_class = load_reference(family.model_class or "transformers:AutoModelForMaskedLM")
    options = {"use_safetensors": True, "trust_remote_code": False, **from_pretrained}
    base = adapter_base(folder)
    if base is None:
        return _loaded(folder, lambda: model_class.from_pretrained(folder, **options))
    try:
        from peft import PeftModel
    except ImportError:
        raise DllmError(f"{folder} is a LoRA adapter and needs peft: pip install 'dllm-core[lora]'") from None
    model = _loaded(base, lambda: model_class.from_pretrained(base, **options))
    return _loaded(folder, lambda: PeftModel.from_pretrained(model, folder))


def _loaded(folder: Path, load: Callable[[], Any]) -> Any:
    """``load()``; missing, truncated or garbage weights, or weights whose shapes do not fit the
    config, become one :class:`DllmError` naming ``folder``."""
    from safetensors import SafetensorError

    try:
        return load()
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        reason = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
        raise DllmError(f"cannot load the weights of {folder}: {reason[:300]}. Is the checkpoint complete? "
                        "Save it again, or pass another folder") from None


def load_tokenizer(folder: Path | str, family: ModelFamily | None = None) -> Any:
    """The tokenizer saved with a checkpoint (for an adapter: its own, else its base model's)."""
    from transformers import AutoTokenizer

    folder = Path(folder)
    register_family_classes(family or resolve_family(folder))  # AutoTokenizer reads config.json
    base = adapter_base(folder)
    has_own = any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))
    source = folder if has_own or base is None else base
    try:
        return AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise DllmError(f"no usable tokenizer in {source} ({exc}); save one with the checkpoint") from None


def check_device(device: Any) -> None:
    """Refuse a device this torch build cannot use (one clear error before any weight loads)."""
    if device is None:
        return
    import torch

    try:
        wanted = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise DllmError(f"--device {device!r} is not a device; use cpu, cuda, cuda:1, mps, ...") from None
    if wanted.type == "cuda":
        if not torch.cuda.is_available():
            raise DllmError(f"--device {device}: this torch build has no usable CUDA GPU (torch {torch.__version__}); "
                            "use --device cpu, or install a CUDA build of torch")
        if wanted.index is not None and wanted.index >= torch.cuda.device_count():
            raise DllmError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) visible; "
                            f"use cuda:0..cuda:{torch.cuda.device_count() - 1}")
    if wanted.type == "mps" and not torch.backends.mps.is_available():
        raise DllmError(f"--device {device}: MPS is not available here; use --device cpu")


def load_for_inference(folder: Path | str, family: ModelFamily, *, dtype: Any = None, device: Any = None,
                       merge_adapter: bool = False) -> tuple[Any, Any, Any]:
    """``(model, tokenizer, special tokens)`` of a checkpoint, ready to generate or score.

    The model is in eval mode (on ``device`` when given; a LoRA adapter merged into its base
    weights with ``merge_adapter``; on the CPU its LM head laid out for decoding, see
    :func:`~dllm_core.modeling.head_layout.column_major_lm_head`), the tokenizer adapted to the
    family (chat template, family adapter), and the special tokens resolved (a missing mask
    token is a :class:`DllmError`).
    """
    from dllm_core.modeling.head_layout import column_major_lm_head
    from dllm_core.special_tokens import adapt_tokenizer, resolve_special_tokens

    check_device(device)
    model = load_model(folder, family, **({} if dtype is None else {"dtype": dtype}))
    if merge_adapter and hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model = (model if device is None else model.to(device)).eval()
    column_major_lm_head(model)  # faster decoding steps on the CPU, same logits
    tokenizer = adapt_tokenizer(load_tokenizer(folder, family), family)
    special = resolve_special_tokens(model.config, tokenizer, family, source=str(folder))
    return model, tokenizer, special
