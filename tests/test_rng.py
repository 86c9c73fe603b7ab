"""Philox4x32-10: known answers (Random123 kat_vectors) and vectorisation."""

import numpy as np

from gpusim.rng import draw, mulhi, philox4x32_10


def hexwords(a):
    return " ".join(f"{int(w):08x}" for w in a)


def test_known_answer_zero():
    out = philox4x32_10(np.zeros(4, np.uint32), np.zeros(2, np.uint32))
    assert hexwords(out) == "6627e8d5 e169c58d bc57ac4c 9b00dbd8"


def test_known_answer_ones():
    # Random123 kat_vectors: philox4x32 10, all-ones counter and key.
    out = philox4x32_10(np.full(4, 0xFFFFFFFF, np.uint32), np.full(2, 0xFFFFFFFF, np.uint32))
    assert hexwords(out) == "408f276d 41c83b0e a20bc7c6 6d5451fd"


def test_known_answer_pi():
    ctr = np.array([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], np.uint32)
    key = np.array([0xA4093822, 0x299F31D0], np.uint32)
    assert hexwords(philox4x32_10(ctr, key)) == "d16cfe09 94fdcceb 5001e420 24126ea1"


def test_vectorised_matches_scalar():
    rng = np.random.default_rng(1)
    ctr = rng.integers(0, 2**32, size=(5, 3, 4), dtype=np.uint64).astype(np.uint32)
    key = rng.integers(0, 2**32, size=2, dtype=np.uint64).astype(np.uint32)
    out = philox4x32_10(ctr, key)
    assert out.shape == (5, 3, 4) and out.dtype == np.uint32
    for idx in np.ndindex(5, 3):
        np.testing.assert_array_equal(out[idx], philox4x32_10(ctr[idx], key))


def test_draw_layout_and_uniformity():
    w = draw(np.arange(200000), step=7, phase=3, sub=1, key=(5, 6))
    np.testing.assert_array_equal(w[9], philox4x32_10(np.array([9, 7, 3, 1], np.uint32), np.array([5, 6], np.uint32)))
    # Each word is uniform on [0, 2^32): mean within 5 standard errors.
    mean = w.astype(np.float64).mean(axis=0) / 2**32
    assert np.all(np.abs(mean - 0.5) < 5 * np.sqrt(1 / 12 / len(w)))


def test_mulhi_uniform_choice():
    w = draw(np.arange(100000), 0, 0, 0, (1, 2))[:, 0]
    k = mulhi(w, 6)
    assert k.min() == 0 and k.max() == 5
    counts = np.bincount(k, minlength=6)
    assert np.all(np.abs(counts - 100000 / 6) < 5 * np.sqrt(100000 / 6))
