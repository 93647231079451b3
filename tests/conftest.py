import json
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
INSTANCES = SHARED / "instances" / "layers"
DECODER = SHARED / "models" / "mnist_vae_decoder_20_60_784.npz"


def load_instance(name):
    d = np.load(INSTANCES / name)
    W = d["W"]
    b = d["b"] if "b" in d.files else np.zeros(W.shape[0])
    return W, b


def manifest():
    if not (INSTANCES / "manifest.json").exists():
        return []
    return json.loads((INSTANCES / "manifest.json").read_text())


@pytest.fixture
def tmp_npz(tmp_path):
    def make(name="layer.npz", **arrays):
        p = tmp_path / name
        np.savez(p, **arrays)
        return p
    return make
