"""Build small, randomly initialised Dia models and DAC codecs in the production layout (tests and benches, no
download)."""

from __future__ import annotations

from pathlib import Path


def _codec_config(decoder_hidden_size: int = 16):
    from transformers import DacConfig

    return DacConfig(
        encoder_hidden_size=8,
        decoder_hidden_size=decoder_hidden_size,
        hidden_size=32,
        codebook_dim=4,
        n_codebooks=9,
        codebook_size=1024,
        downsampling_ratios=[2, 4, 8, 8],
        upsampling_ratios=[8, 8, 4, 2],
        sampling_rate=44100,
    )


def tiny_configs():
    """A 1-layer Dia and a tiny DAC (codebook size stays 1024: tokens 1024-1026 are EOS/PAD/BOS)."""
    from transformers import DiaConfig

    config = DiaConfig(
        encoder_config={
            "num_hidden_layers": 1,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "head_dim": 16,
        },
        decoder_config={
            "num_hidden_layers": 1,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "cross_num_attention_heads": 2,
            "cross_head_dim": 16,
            "cross_num_key_value_heads": 2,
            "cross_hidden_size": 32,
        },
    )
    return config, _codec_config()


def small_configs():
    """A "small" Dia: Dia-1.6B's shape (GQA decoder, wider cross-attention) scaled down to ~25 M parameters, so
    that a CPU decodes it in milliseconds per step while matrix work, not Python, is a real share of the time."""
    from transformers import DiaConfig

    config = DiaConfig(
        encoder_config={
            "num_hidden_layers": 2,
            "hidden_size": 256,
            "intermediate_size": 1024,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "head_dim": 64,
        },
        decoder_config={
            "num_hidden_layers": 4,
            "hidden_size": 512,
            "intermediate_size": 2048,
            "num_attention_heads": 8,
            "num_key_value_heads": 2,
            "head_dim": 64,
            "cross_num_attention_heads": 8,
            "cross_head_dim": 64,
            "cross_num_key_value_heads": 8,
            "cross_hidden_size": 256,
        },
    )
    return config, _codec_config(decoder_hidden_size=32)


def build_tiny_dia(folder: Path, seed: int = 0, *, preset: str = "tiny", eos_boost: float | None = None):
    """Save a random Dia and DAC codec in the layout the production loader reads; returns their folders.

    `eos_boost` scales the weights behind channel 0's EOS logit, so that generations end at varied, data-dependent
    lengths instead of always running to the step budget (random weights make EOS the top logit about once in
    1025 steps).
    """
    import torch
    from transformers import DacModel, DiaForConditionalGeneration

    torch.manual_seed(seed)
    config, codec_config = small_configs() if preset == "small" else tiny_configs()
    codec_dir, model_dir = folder / "dac", folder / "dia"
    DacModel(codec_config).save_pretrained(codec_dir)
    model = DiaForConditionalGeneration(config)
    if eos_boost is not None:
        eos = config.decoder_config.eos_token_id
        with torch.no_grad():
            model.logits_dense.weight[eos] *= eos_boost
    model.save_pretrained(model_dir)
    return model_dir, codec_dir
