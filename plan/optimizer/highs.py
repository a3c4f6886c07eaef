# Solves one MILP with HiGHS, as SciPy ships it (scipy.optimize.milp; Debian: python3-scipy). Run by
# plan/optimizer/highs.go: the model comes on stdin as JSON (column form, infinities as +-1e300), the
# answer goes to stdout as JSON. See highs.go for why.
import json
import sys
import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csc_matrix


def floats(values):
    a = np.asarray(values, dtype=float)
    a[a >= 1e299] = np.inf
    a[a <= -1e299] = -np.inf
    return a


job = json.load(sys.stdin)
n, m = len(job["obj"]), len(job["row_lb"])
a = csc_matrix((floats(job["value"]), np.asarray(job["index"]), np.asarray(job["col_start"])), shape=(m, n))
constraints = LinearConstraint(a, floats(job["row_lb"]), floats(job["row_ub"])) if m else None

if job.get("relax_z"):
    # The LP relaxation once per column of relax_z, that column fixed to 1 and the others to 0 (one per
    # variant combination), within secs in all; an LP not solved comes back as null, an infeasible one
    # as 1e300.
    began = time.monotonic()
    c, lb, ub = floats(job["obj"]), floats(job["col_lb"]), floats(job["col_ub"])
    lps = []
    for k in range(len(job["relax_z"])):
        left = job["secs"] - (time.monotonic() - began)
        if job["secs"] > 0 and left <= 0:
            lps.append(None)
            continue
        lo, up = lb.copy(), ub.copy()
        for k2, j in enumerate(job["relax_z"]):
            lo[j] = up[j] = 1.0 if k2 == k else 0.0
        options = {"disp": False}
        if job["secs"] > 0:
            options["time_limit"] = left
        res = milp(c, bounds=Bounds(lo, up), constraints=constraints, options=options)
        lps.append(float(res.fun) if res.status == 0 else 1e300 if res.status == 2 else None)
    json.dump({"lps": lps}, sys.stdout)
    sys.exit(0)

options = {"disp": False, "mip_rel_gap": job["rel_gap"]}
if job["secs"] > 0:
    options["time_limit"] = job["secs"]
res = milp(
    floats(job["obj"]),
    integrality=np.asarray(job["integer"], dtype=int),
    bounds=Bounds(floats(job["col_lb"]), floats(job["col_ub"])),
    constraints=constraints,
    options=options,
)


def finite(v):
    return None if v is None or not np.isfinite(v) else float(v)


json.dump({
    "status": int(res.status),
    "message": str(res.message),
    "x": None if res.x is None else [float(v) for v in res.x],
    "objective": finite(getattr(res, "fun", None)),
    "bound": finite(getattr(res, "mip_dual_bound", None)),
}, sys.stdout)
