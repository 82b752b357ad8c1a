#!/usr/bin/env python3
"""Writes the periodic Hann window of HF's Gemma3nAudioFeatureExtractor exactly as numpy computes it in float32.

HF builds it as 0.5 * (1 - np.cos(2 * np.pi * np.arange(512, dtype=np.float32) / 512)) in float32; numpy's float32
cos (its SIMD kernel) rounds 37 of the 512 values one ulp away from a correctly rounded cosine, and the log-mel bins
near the 1e-5 floor move by up to 1.4e-3 with that window (9e-3 with a float64 one): far outside the fixtures' 1e-4
for input_features. Jemma reads this table (jemma-core resources, little-endian float32) instead of computing it;
Gemma3nAudioFeatureExtractorTest checks that it is the Hann window to within one ulp.

usage: tools/gemma3n_hann_window.py [OUT]   (default: the resource path in jemma-core)
"""
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "jemma-core/src/main/resources/dev/jemma/core/audio/gemma3n-hann512.f32"
hann_arange = np.arange(512, dtype=np.float32)
window = (0.5 * (1 - np.cos(2 * np.pi * hann_arange / 512))).astype(np.float32)
window.astype("<f4").tofile(out)
print(f"{out}: {window.size} floats (numpy {np.__version__})")
