"""Regenerate the DCGAN generator fixture ``examples/dcgan_generator.onnx``.

A DCGAN generator of the usual MNIST shape (latent 64 -> 256x3x3 ->
128x6x6 -> 64x13x13 -> 1x28x28: ConvTranspose2d, BatchNorm2d, ReLU, and a
tanh head). There is no training data here (no internet), so the weights are
PyTorch's default initialisation with a fixed seed, and the batch-norm
layers get non-trivial statistics and affine parameters: random scales and
shifts, and running statistics accumulated by forward passes over random
latents in train mode. The batch-norm epsilon is 2^-17 (a float32 value),
so the ONNX attribute (a float32) and the float64 torch module mean the
same number and the two forward passes agree to rounding.

Written with the documented export path (``torch.onnx.export``, which
needs ``onnxscript``: ``pip install 'reluinj[torch]'``), in eval mode, with
``optimize=False`` (keeps BatchNormalization nodes instead of folding them
into the weights in float32) and ``external_data=False`` (one file). Also
writes ``examples/dcgan_generator_ref.npz``: latents ``z`` (5 x 64) and the
float64 torch outputs ``x`` (5 x 784), so tests can check the forward pass
without torch.

Usage::

    python examples/make_dcgan.py        # needs torch and onnxscript
"""
from __future__ import annotations

import pathlib

HERE = pathlib.Path(__file__).resolve().parent
ONNX_PATH = HERE / "dcgan_generator.onnx"
REF_PATH = HERE / "dcgan_generator_ref.npz"
LATENT = 64
BN_EPS = 2.0 ** -17


def build_generator(torch):
    """The architecture (untrained, default initialisation of this torch)."""
    nn = torch.nn

    def bn(c):
        return nn.BatchNorm2d(c, eps=BN_EPS)

    return nn.Sequential(
        nn.Unflatten(1, (LATENT, 1, 1)),
        nn.ConvTranspose2d(LATENT, 256, 3, 1, 0, bias=False), bn(256), nn.ReLU(),   # 3x3
        nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), bn(128), nn.ReLU(),      # 6x6
        nn.ConvTranspose2d(128, 64, 3, 2, 0, bias=False), bn(64), nn.ReLU(),        # 13x13
        nn.ConvTranspose2d(64, 1, 4, 2, 0), nn.Tanh())                              # 28x28


def make(seed=0):
    import numpy as np
    import torch

    torch.manual_seed(seed)
    G = build_generator(torch)
    with torch.no_grad():
        for m in G:
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.momentum = None           # cumulative average of the batch statistics
        G.train()
        for _ in range(4):
            G(torch.randn(256, LATENT))
        for m in G:
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = 0.1
    G.eval()
    torch.onnx.export(G, (torch.zeros(1, LATENT),), str(ONNX_PATH), input_names=["z"],
                      output_names=["x"], optimize=False, external_data=False)
    z = np.random.default_rng(seed).standard_normal((5, LATENT))
    with torch.no_grad():
        x = G.double()(torch.tensor(z)).numpy().reshape(5, -1)
    np.savez(REF_PATH, z=z, x=x)
    return G


if __name__ == "__main__":
    make()
    print(f"wrote {ONNX_PATH} and {REF_PATH}")
