"""The command line: JSON contract, exit codes, one-line errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

from solver import check_witness
from conftest import INSTANCES


def run(*args):
    p = subprocess.run([sys.executable, "-m", "solver", *map(str, args)],
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_check_json_witness_is_exact(tmp_npz):
    W = np.array([[1.0, 0.5], [0.25, 1.0], [-1.0, -1.0]])
    path = tmp_npz(W=W)
    code, out, err = run("check", path, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) >= {"verdict", "witness", "method", "seconds"}
    assert doc["verdict"] == "not_injective"
    assert all(isinstance(s, str) for s in doc["witness"]["x1"] + doc["witness"]["x2"])
    assert check_witness(W, np.zeros(3), doc["witness"])[0]


def test_check_human_output():
    code, out, err = run("check", INSTANCES / "cross_n2.npz")
    assert code == 0 and "verdict: injective" in out and "time:" in out


def test_certificate_roundtrip_and_verify(tmp_path):
    cert = tmp_path / "c.json"
    layer = INSTANCES / "gaussbias_n2_m8_0.npz"
    code, out, _ = run("check", layer, "--certificate", cert, "--json")
    assert code == 0 and json.loads(out)["verdict"] == "injective"
    code, out, _ = run("verify", layer, cert)
    assert code == 0 and out.strip().startswith("valid")
    # against another layer of another shape: exit 1 with a reason
    code, out, _ = run("verify", INSTANCES / "gauss_n2_m5_0.npz", cert)
    assert code == 1 and out.startswith("invalid:")


def test_verify_does_not_load_the_solvers(tmp_path):
    """``reluinj verify`` needs the checker (NumPy and the standard library),
    not scipy: importing scipy.sparse / scipy.optimize was ~0.6 s of every
    command's start-up. The command, run in a fresh interpreter, must leave
    both unimported (and still say valid)."""
    cert = tmp_path / "c.json"
    layer = INSTANCES / "gaussbias_n2_m8_0.npz"
    code, out, _ = run("check", layer, "--certificate", cert, "--json")
    assert code == 0 and json.loads(out)["verdict"] == "injective"
    probe = ("import sys, runpy\n"
             f"sys.argv = ['reluinj', 'verify', {str(layer)!r}, {str(cert)!r}]\n"
             "try:\n    runpy.run_module('solver', run_name='__main__')\n"
             "except SystemExit as e:\n    code = e.code\n"
             "print('LOADED', [m for m in ('scipy.sparse', 'scipy.optimize') if m in sys.modules])\n")
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert "valid" in p.stdout and "LOADED []" in p.stdout, p.stdout + p.stderr
    # corrupted
    doc = json.loads(cert.read_text())
    doc["tree"] = {"leaf": "basis", "rows": [0, 1]}
    cert.write_text(json.dumps(doc))
    code, out, _ = run("verify", layer, cert)
    assert code == 1 and "invalid" in out
    cert.write_text("{not json")
    code, out, err = run("verify", layer, cert)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_witness_file_verifies(tmp_path):
    w = tmp_path / "w.json"
    layer = INSTANCES / "gauss_n3_m7_1.npz"
    code, out, _ = run("check", layer, "--certificate", w)
    assert code == 0
    code, out, _ = run("verify", layer, w)
    assert code == 0 and out.startswith("valid")


@pytest.mark.parametrize("arrays,needle", [
    ({"X": np.eye(2)}, "no array 'W'"),
    ({"W": np.array([[1.0, np.nan]])}, "NaN"),
    ({"W": np.array([[1.0, np.inf]])}, "NaN or inf"),
    ({"W": np.eye(2), "b": np.zeros(3)}, "bias has shape"),
    ({"W": np.zeros((0, 3))}, "empty"),
    ({"W": np.zeros(3)}, "2-D"),
])
def test_bad_input_one_line_exit_2(tmp_npz, arrays, needle):
    code, out, err = run("check", tmp_npz(**arrays))
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err


def test_missing_and_unreadable_files(tmp_path):
    code, _, err = run("check", tmp_path / "nope.npz")
    assert code == 2 and "no such file" in err and len(err.strip().splitlines()) == 1
    junk = tmp_path / "junk.npz"
    junk.write_text("hello")
    code, _, err = run("check", junk)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    code, _, err = run("check", INSTANCES / "cross_n2.npz", "--backend", "nosuch")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_console_script_matches_module():
    import os
    import shutil
    exe = shutil.which("reluinj", path=os.path.dirname(sys.executable)) or shutil.which("reluinj")
    if exe is None:
        pytest.skip("console script not installed (package not pip-installed)")
    p = subprocess.run([exe, "check", str(INSTANCES / "n1_pair.npz"), "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout)["verdict"] == "injective"
