import json, subprocess, sys, os
W = r'''
import sys, json, time
sys.path.append("/work/wt/house")
from benchmarks.perf import rounded_construction
from solver.wedge import probe_wedges
import solver
out = {"code": solver.__file__}
for n in (20, 40):
    for seed in range(5):
        W, b = rounded_construction(n, seed)
        t = time.process_time()
        w = probe_wedges(W, b)
        out[f"{n}_{seed}"] = [None if w is None else [[str(v) for v in w[0]], [str(v) for v in w[1]]],
                              time.process_time() - t]
print(json.dumps(out))
'''
res = {}
for code in ("/tmp/house_old", "/tmp/house_new"):
    p = subprocess.run([sys.executable, "-c", W], env=dict(os.environ, PYTHONPATH=code),
                       capture_output=True, text=True, cwd="/tmp")
    res[code] = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else p.stderr[-2000:]
o, n = res["/tmp/house_old"], res["/tmp/house_new"]
print(o["code"], n["code"])
for k in o:
    if k != "code":
        print(k, "found" if o[k][0] else "none", "found" if n[k][0] else "none",
              "same witness" if o[k][0] == n[k][0] else "DIFFERENT", round(o[k][1], 2), round(n[k][1], 2))
