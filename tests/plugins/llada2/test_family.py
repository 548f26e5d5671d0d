"""The two families as the rest of dllm sees them: an official-format checkpoint with a Ling-style
tokenizer (no mask id in config.json) loads into an inference session that resolves the special
tokens from the family's token strings, renders the family's chat template and reproduces the
reference's LLaDA-MoE generation through the family's default generator."""

from __future__ import annotations

import shutil

from support.golden import golden2_cases

from dllm_core.api import InferenceSession, get_registry
from dllm_llada2.family import LLADA2, LLADAMOE

#: ids of the tiny LLaDA-MoE checkpoint's special tokens (golden2 README: eos = pad 284, mask 287)
SPECIALS = {284: "<|endoftext|>", 285: "<|role_end|>", 287: "<|mask|>"}


def _ling_tokenizer(vocab_size: int = 288):
    """Whitespace-split tokens ``t0 .. t{V-1}`` with Ling's special tokens at the ids above; it
    names no mask, EOS or pad token itself (the family's token strings must find them)."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {SPECIALS.get(index, f"t{index}"): index for index in range(vocab_size)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="t0"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIALS.values()])
    return PreTrainedTokenizerFast(tokenizer_object=backend)


def _session(golden2_dir, tmp_path) -> InferenceSession:
    shutil.copytree(golden2_dir / "lladamoe" / "checkpoint", tmp_path, dirs_exist_ok=True)
    _ling_tokenizer().save_pretrained(tmp_path)
    return InferenceSession.load(tmp_path)


def test_session_resolves_special_tokens_and_the_default_generator(golden2_dir, tmp_path):
    session = _session(golden2_dir, tmp_path)
    assert session.family is LLADAMOE and session.generator.name == "llada"
    special = session.special
    assert (special.mask_token_id, special.eos_token_id, special.eot_token_id) == (287, 284, 285)
    assert session.special.stop_token_ids() == [284, 285]


def test_session_reproduces_the_reference_generation(golden2_dir, tmp_path):
    """``lladamoe/generate/single_block`` through the session: the mask id comes from the
    tokenizer (through the family's ``<|mask|>``), not from the case."""
    session = _session(golden2_dir, tmp_path)
    case = next(c for c in golden2_cases("lladamoe") if c["id"] == "lladamoe/generate/single_block")
    values = {key: value for key, value in case["params"].items() if key != "mask_id"}
    [completion] = session.generate(case["inputs"]["prompt"], session.params(values=values))
    assert completion.token_ids == case["expected"]["generated_ids"][0]
    assert completion.nfe == case["expected"]["nfe"]


def test_chat_template_renders_ling_turns(golden2_dir, tmp_path):
    session = _session(golden2_dir, tmp_path)
    text = session.render_chat([{"role": "system", "content": "t1"}, {"role": "user", "content": "t2 t3"},
                                {"role": "assistant", "content": "t4"}, {"role": "user", "content": "t5"}])
    assert text == ("<role>SYSTEM</role>t1<|role_end|><role>HUMAN</role>t2 t3<|role_end|>"
                    "<role>ASSISTANT</role>t4<|role_end|><role>HUMAN</role>t5<|role_end|><role>ASSISTANT</role>")


def test_family_settings():
    registry = get_registry()
    assert registry.families.for_model_type("llada2_moe") is LLADA2
    assert registry.families.for_model_type("llada21_moe") is LLADA2
    assert registry.families.for_model_type("lladamoe") is LLADAMOE
    assert LLADA2.default_objective == "block-diffusion" and LLADA2.default_objective in registry.objectives
    assert LLADA2.default_generator == "llada2" and LLADAMOE.default_generator == "llada"
    for family in (LLADA2, LLADAMOE):
        assert family.supports_kv_cache and family.supports_logits_to_keep and not family.logit_shift
        generator = registry.generators.get(family.default_generator)
        assert set(family.generator_defaults) <= set(generator.parameter_names())
