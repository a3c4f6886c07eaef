# Solves one MILP with HiGHS, as SciPy ships it (scipy.optimize.milp; Debian: python3-scipy). Run by
# plan/optimizer/highs.go: the model comes on stdin as JSON (column form, infinities as +-1e300), the
# answer goes to stdout as JSON. See highs.go for why.
import json
import sys

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
options = {"disp": False, "mip_rel_gap": job["rel_gap"]}
if job["secs"] > 0:
    options["time_limit"] = job["secs"]
res = milp(
    floats(job["obj"]),
    integrality=np.asarray(job["integer"], dtype=int),
    bounds=Bounds(floats(job["col_lb"]), floats(job["col_ub"])),
    constraints=LinearConstraint(a, floats(job["row_lb"]), floats(job["row_ub"])) if m else None,
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
