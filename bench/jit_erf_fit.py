#!/usr/bin/python3
"""Fits the two polynomials of the JIT's f32 erf (codegen/jit/jit_vmath.c):
  |x| < 1:      erf(x) = x P(x^2)                (P: degree DA in z = x^2)
  1 <= |x| < 4: erf(x) = 1 - exp(-x^2 + G(|x|))  (G: degree DB in t = |x| - 2.5)
by minimax (Lawson's iteratively reweighted least squares) of the relative
error of erf (region A) and the absolute error of erfc (region B), in
double, then rounds the coefficients to f32 and prints them as C arrays.
Run: /usr/bin/python3 bench/jit_erf_fit.py"""
import math
import numpy as np

def lawson(xs, f, basis, w_err, iters=200):
    A = np.stack([basis(xs, k) for k in range(NB)], axis=1)
    w = np.ones_like(xs) / len(xs)
    for _ in range(iters):
        sw = np.sqrt(w) * w_err
        c, *_ = np.linalg.lstsq(A * sw[:, None], f * sw, rcond=None)
        e = np.abs(A @ c - f) * w_err
        w = w * e
        w /= w.sum()
    return c, np.max(np.abs(A @ c - f) * w_err)

erf = np.vectorize(math.erf)
erfc = np.vectorize(math.erfc)

# region A: P(z) = erf(x) / x, relative error of erf = |P - erf/x| / (erf/x)
NB = 7
x = np.cos(np.linspace(0, math.pi, 4000)) * 0.5 + 0.5   # Chebyshev-like in [0,1]
x = np.sqrt(x) * 1.0
x = x[x > 1e-6]
z = x * x
fa = erf(x) / x
ca, ea = lawson(z, fa, lambda v, k: v ** k, 1 / fa)
# region B: G(t) = log(erfc(a)) + a^2, error weight: erfc(a) (abs error of erfc)
NB = 8
a = 2.5 + 1.5 * np.cos(np.linspace(0, math.pi, 6000))
t = a - 2.5
fb = np.log(erfc(a)) + a * a
cb, eb = lawson(t, fb, lambda v, k: v ** k, erfc(a))
def f32(c): return [float(np.float32(v)) for v in c]
print("/* erf, |x| < 1: P(z), z = x^2; max rel. error of the fit %.2e */" % ea)
print("static const double erf_a[%d] = {%s};" % (len(ca), ", ".join("%.9g" % v for v in f32(ca))))
print("/* erf, 1 <= |x| < 4: G(t), t = |x| - 2.5; max abs. error of erfc %.2e */" % eb)
print("static const double erf_b[%d] = {%s};" % (len(cb), ", ".join("%.9g" % v for v in f32(cb))))
