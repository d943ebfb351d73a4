"""The agreement criterion of bench/run's checks (issue 13), one place for
the PyTorch peer and the ONNX Runtime comparisons: the same form as
halograph's fast-backend tolerance against the reference interpreter."""
import numpy as np


def rel_err(peer, ref, floor=0.0):
    """max over elements of |peer - ref| / max(|ref|, 0.1 max|ref|, floor);
    inf on a shape mismatch or a non-finite value. Agreement within tol
    means rel_err <= tol."""
    peer = np.asarray(peer, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if peer.shape != ref.shape:
        return float("inf")
    if ref.size == 0:
        return 0.0
    den = np.maximum(np.maximum(np.abs(ref), 0.1 * np.max(np.abs(ref))), floor)
    den = np.where(den > 0, den, 1e-30)
    e = np.abs(peer - ref) / den
    return float(np.max(e)) if np.all(np.isfinite(e)) else float("inf")
