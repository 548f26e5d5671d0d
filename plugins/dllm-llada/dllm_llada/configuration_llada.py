"""LLaDA configuration, with the field names of the official GSAI-ML/LLaDA checkpoints.

``LLaDAConfig()`` is the LLaDA-8B shape. Official ``config.json`` files load unchanged: fields
the model does not read (``init_device``, ``precision``, ``flash_attention``, ``init_fn``, ...)
are kept as attributes and written back on ``save_pretrained``. Training from scratch always
initialises with N(0, init_std), whatever ``init_fn`` says.
"""

from __future__ import annotations

from typing import Any, Optional

from transformers import PretrainedConfig


class LLaDAConfig(PretrainedConfig):
    model_type = "llada"
    keys_to_ignore_at_inference = ["past_key_values"]
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "n_heads",
        "num_hidden_layers": "n_layers",
        "max_position_embeddings": "max_sequence_length",
    }

    def __init__(
        self,
        d_model: int = 4096,  # hidden size
        n_heads: int = 32,  # query heads; head dim = d_model // n_heads
        n_kv_heads: Optional[int] = 32,  # key/value heads (grouped-query); None = n_heads
        multi_query_attention: Optional[bool] = None,  # True forces a single key/value head
        n_layers: int = 32,
        mlp_hidden_size: Optional[int] = 12288,  # SwiGLU inner size; None = mlp_ratio * d_model
        mlp_ratio: int = 4,
        activation_type: str = "silu",  # gate activation: silu, gelu or relu
        block_type: str = "llama",  # only the Llama-style block (separate q/k/v, SwiGLU) exists
        vocab_size: int = 126464,
        embedding_size: Optional[int] = 126464,  # rows of wte/ff_out (>= vocab_size); None = vocab
        weight_tying: bool = False,  # output projection shares wte's weight
        max_sequence_length: int = 4096,
        rope: bool = True,
        rope_theta: float = 500000.0,
        rope_full_precision: bool = True,  # rotate q/k in float32 whatever the model dtype
        alibi: bool = False,  # unsupported (LLaDA uses RoPE)
        layer_norm_type: str = "rms",
        layer_norm_with_affine: bool = True,
        bias_for_layer_norm: Optional[bool] = False,  # None = include_bias
        rms_norm_eps: float = 1e-5,
        attention_layer_norm: bool = False,  # q/k norms: unsupported (off in every LLaDA)
        include_bias: bool = False,  # biases on all linear layers
        include_qkv_bias: bool = False,  # biases on q/k/v only
        input_emb_norm: bool = False,  # scale token embeddings by sqrt(d_model)
        scale_logits: bool = False,  # scale logits by 1 / sqrt(d_model)
        embedding_dropout: float = 0.0,
        attention_dropout: float = 0.0,
        residual_dropout: float = 0.0,
        block_group_size: int = 1,  # only 1 is supported
        init_std: float = 0.02,  # std of the normal init used when training from scratch
        mask_token_id: Optional[int] = 126336,
        eos_token_id: Optional[int] = 126081,
        pad_token_id: Optional[int] = 126081,
        use_cache: bool = False,
        **kwargs: Any,
    ):
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads
        self.multi_query_attention = multi_query_attention
        self.n_layers = n_layers
        self.mlp_hidden_size = mlp_hidden_size
        self.mlp_ratio = mlp_ratio
        self.activation_type = activation_type
        self.block_type = block_type
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.weight_tying = weight_tying
        self.max_sequence_length = max_sequence_length
        self.rope = rope
        self.rope_theta = rope_theta
        self.rope_full_precision = rope_full_precision
        self.alibi = alibi
        self.layer_norm_type = layer_norm_type
        self.layer_norm_with_affine = layer_norm_with_affine
        self.bias_for_layer_norm = bias_for_layer_norm
        self.rms_norm_eps = rms_norm_eps
        self.attention_layer_norm = attention_layer_norm
        self.include_bias = include_bias
        self.include_qkv_bias = include_qkv_bias
        self.input_emb_norm = input_emb_norm
        self.scale_logits = scale_logits
        self.embedding_dropout = embedding_dropout
        self.attention_dropout = attention_dropout
        self.residual_dropout = residual_dropout
        self.block_group_size = block_group_size
        self.init_std = init_std
        self.mask_token_id = mask_token_id
        self.use_cache = use_cache
        # transformers' own name for weight tying follows LLaDA's (transformers 4 ties the output
        # projection to the input embedding when it is true, its default)
        kwargs["tie_word_embeddings"] = weight_tying
        super().__init__(eos_token_id=eos_token_id, pad_token_id=pad_token_id, **kwargs)

    @property
    def effective_n_kv_heads(self) -> int:
        """Number of key/value heads actually built."""
        if self.multi_query_attention:
            return 1
        return self.n_kv_heads or self.n_heads

    @property
    def effective_mlp_hidden_size(self) -> int:
        return self.mlp_hidden_size or self.mlp_ratio * self.d_model

    @property
    def effective_embedding_size(self) -> int:
        """Rows of the token embedding and of the output projection (= logits width)."""
        return self.embedding_size or self.vocab_size


