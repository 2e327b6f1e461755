"""The audio front end: shapes, filterbank, DCT and the mel-domain noise mix."""

from __future__ import annotations

import numpy as np
import pytest

from tinynas.errors import DatasetError
from tinynas.features import (
    FeatureConfig,
    dct_matrix,
    extract,
    mel_energies,
    mel_filterbank,
    mix_in_mel_domain,
)

from .writers import tone


def test_default_is_49_frames_of_10_mfcc() -> None:
    cfg = FeatureConfig()
    assert cfg.shape == (49, 10, 1)
    assert extract(tone(440.0), cfg).shape == (1, 49, 10, 1)
    assert FeatureConfig(kind="log_mel").shape == (49, 40, 1)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg


def test_short_clips_are_padded_long_ones_cut() -> None:
    cfg = FeatureConfig()
    short, exact = extract(tone(440.0, 0.5), cfg), extract(tone(440.0, 1.0), cfg)
    long = extract(tone(440.0, 1.5), cfg)
    assert np.allclose(long, exact)
    assert np.allclose(short[:, :20], exact[:, :20], atol=1e-4)
    assert short[0, -1, 0, 0] < exact[0, -1, 0, 0] - 5


def test_a_tone_lands_in_the_filter_covering_its_frequency() -> None:
    cfg = FeatureConfig()
    fb = mel_filterbank(cfg)
    for freq in (300.0, 1000.0, 3000.0):
        energies = mel_energies(tone(freq), cfg)[0].mean(axis=0)
        bin_index = int(round(freq * cfg.fft_size / cfg.sample_rate))
        assert np.argmax(energies) == np.argmax(fb[:, bin_index])


def test_dct_rows_are_orthonormal() -> None:
    d = dct_matrix(40, 10)
    assert np.allclose(d @ d.T, np.eye(10), atol=1e-5)


def test_mixing_silence_changes_nothing_and_noise_raises_energy() -> None:
    cfg = FeatureConfig()
    rng = np.random.default_rng(0)
    speech = extract(tone(500.0), cfg)
    noise = extract(rng.normal(0, 0.3, 16000), cfg)
    assert np.allclose(mix_in_mel_domain(speech, noise, np.zeros(1), cfg), speech, atol=1e-3)
    mixed = mix_in_mel_domain(speech, noise, np.ones(1), cfg)
    truth = extract(tone(500.0) + rng.normal(0, 0.3, 16000), cfg)
    # The approximation must land far closer to the truly noisy clip than the clean one is.
    assert np.abs(mixed - truth).mean() < 0.15 * np.abs(speech - truth).mean()


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(DatasetError, match="fft_size must be a power of two"):
        FeatureConfig(fft_size=500)
    with pytest.raises(DatasetError, match="num_coefficients must be in"):
        FeatureConfig(num_coefficients=41)
