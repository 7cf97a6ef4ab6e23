"""Build a tiny, randomly initialised Dia model and DAC codec in the production layout (tests, no download)."""

from __future__ import annotations

from pathlib import Path


def tiny_configs():
    """A 1-layer Dia and a tiny DAC (codebook size stays 1024: tokens 1024-1026 are EOS/PAD/BOS)."""
    from transformers import DacConfig, DiaConfig

    codec_config = DacConfig(
        encoder_hidden_size=8,
        decoder_hidden_size=16,
        hidden_size=32,
        codebook_dim=4,
        n_codebooks=9,
        codebook_size=1024,
        downsampling_ratios=[2, 4, 8, 8],
        upsampling_ratios=[8, 8, 4, 2],
        sampling_rate=44100,
    )
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
    return config, codec_config


def build_tiny_dia(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """Save a tiny random Dia and DAC codec in the layout the production loader reads; returns their folders."""
    import torch
    from transformers import DacModel, DiaForConditionalGeneration

    torch.manual_seed(seed)
    config, codec_config = tiny_configs()
    codec_dir, model_dir = folder / "dac", folder / "dia"
    DacModel(codec_config).save_pretrained(codec_dir)
    DiaForConditionalGeneration(config).save_pretrained(model_dir)
    return model_dir, codec_dir
