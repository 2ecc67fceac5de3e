"""GELU's float32 kernels on NumPy: the exact ``x Phi(x)``, its gradient ``Phi(x) + x phi(x)``,
and the tanh form (GPT-2's) written with one ``exp`` instead of ``tanh``.

NumPy runs one pass over memory per call, about 0.2 ns an element for an add or multiply
on an array that fits in the CPU's L2 cache, 2.5 ns for ``exp`` and 4 ns for ``tanh``; a call
itself costs about 1 us. These kernels therefore

- work on blocks of 256K elements (1 MiB a temporary, in cache), so a call's overhead is
  small against its block. Two of ember's threads each running a block hand the GIL to each
  other at every NumPy call: with 64K-element blocks (27 calls per block) that cost 40% of
  the forward on two threads, 13-15 ms against 8-9 ms for a (4160, 768) input;
- write into preallocated blocks (``out=``) instead of allocating and copying;
- keep their constants as float32 0-d arrays, which NumPy takes faster than Python floats;
- compute ``Phi(x) - 1/2`` directly as ``x R(x^2)``, one rational function R = P / Q fitted
  for float32 (degrees 5 and 5), instead of ``erf(x / sqrt 2)`` and two more passes;
- evaluate R as a continued fraction, where a division costs no more than a multiplication:
  15 passes against Horner's 20 for P and Q and one division.

Forward is 20 passes, backward 7 (``exp`` included). The tanh form uses
``(1 + tanh u) / 2 = sigmoid(2u) = 1 / (1 + exp(-2u))``: ``exp`` costs about half of
``tanh``, and the sigmoid's derivative ``s (1 - s)`` needs no transcendental at all, so
forward is 8 passes and backward 10. The general ``GELU`` and ``GELUTanh`` (float64, half
precision, other array namespaces) are in :mod:`ember.ops.activation`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.polynomial import polydiv

from ..host_threads import parallel

__all__ = ["BLOCK", "blocks", "gelu_forward", "gelu_backward", "gelu_tanh_forward", "gelu_tanh_backward", "MAX_ERROR"]

BLOCK = 1 << 18

#: Phi(x) - 1/2 = x R(x^2), R = P / Q a minimax fit of Phi on [-5.6, 5.6] in float64 (error
#: 2.5e-8). Coefficients from the lowest power up; Q is monic (its leading 1 is implicit) and P
#: divided by the same coefficient.
_Q_LEAD = 1.1628226201563509e-06
_P = tuple(c / _Q_LEAD for c in (0.3989422633934237, 0.034909969917950624, 0.004738899469401457,
                                  0.00017889159080201317, 6.357434776412732e-06, 2.1557329518515217e-08))
_Q = tuple(c / _Q_LEAD for c in (1.0, 0.25417209528969187, 0.029242515778232486, 0.0019424354337066047,
                                  7.651513068279128e-05))


def _j_fraction(p, q):
    """R = P / Q (deg P = deg Q, Q monic) as ``c + b1 / (u + a1 + b2 / (u + a2 + ... b5 / (u + a5)))``.

    Euclid's algorithm on the polynomials: R = c + P1 / Q with deg P1 < deg Q, then
    Q / P1 = (u + a1) / b1 + P2 / P1 (b1 the leading coefficient of P1), and so on.
    Returns ``(c, [(a1, b1), (a2, b2), ...])``.
    """
    quotient, num = polydiv(p, q + (1.0,))
    den, levels = np.array(q + (1.0,)), []
    while True:
        b = num[-1]
        monic = num / b
        linear, rest = polydiv(den, monic)  # den = (u + a) * monic + rest
        levels.append((linear[0] / linear[1], b))
        if monic.size == 1:
            return quotient[0], levels
        num, den = rest, monic


def _f32(value: float) -> np.ndarray:
    return np.array(value, dtype=np.float32)


#: The float32 evaluation of the continued fraction is within MAX_ERROR of Phi (3.2e-7 measured
#: on 3M points over [-7, 7]; Horner's evaluation of P / Q was within 2.2e-7, for 6 more passes).
#: Every t_k = u + a_k + b_{k+1} / t_{k+1} stays above 6 for u >= 0, so no division comes near zero.
#:
#: NOTE: past |x| = 5.6, Phi is within 1e-8 of 0 or 1, and x R rises past 1/2, by 5.8e-7 at
#: |x| = 6, and on towards x c as |x| grows. So ``x R`` is clipped at +-1/2: from |x| = 6 on,
#: Phi is exactly 0 or 1, and GELU(x) exactly 0 or x, however large x is. An infinite x^2
#: gives R = c, x R = +-inf and so Phi = 1 or 0, as it should.
MAX_ERROR = 3.5e-7
_C, _LEVELS = _j_fraction(_P, _Q)
_CF_C32 = _f32(_C)
_CF_A32 = tuple(_f32(a) for a, _ in _LEVELS)
_CF_B32 = tuple(_f32(b) for _, b in _LEVELS)
_HALF = _f32(0.5)
_MINUS_HALF = _f32(-0.5)
_INV_SQRT_2PI = _f32(1.0 / math.sqrt(2.0 * math.pi))


def _cdf_block(x, cdf, u):
    """cdf <- Phi(x) for one block; u is a scratch block of the same size."""
    np.multiply(x, x, out=u)
    t = cdf  # t_5 = u + a_5, then t_k = u + a_k + b_{k+1} / t_{k+1} down to t_1, in place
    np.add(u, _CF_A32[-1], out=t)
    for a, b in zip(_CF_A32[-2::-1], _CF_B32[:0:-1]):
        np.divide(b, t, out=t)
        t += u
        t += a
    np.divide(_CF_B32[0], t, out=t)
    t += _CF_C32
    t *= x
    np.clip(t, _MINUS_HALF, _HALF, out=cdf)
    cdf += _HALF


def blocks(start: int, stop: int):
    """Slices of ``range(start, stop)`` of BLOCK elements (the last one shorter)."""
    for first in range(start, stop, BLOCK):
        yield slice(first, min(first + BLOCK, stop))


def gelu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x Phi(x), Phi(x))`` of a float32 array (Phi within MAX_ERROR); backward takes Phi from here."""
    flat = np.ascontiguousarray(x).reshape(-1)
    out, cdf = np.empty_like(flat), np.empty_like(flat)

    def part(start, stop):
        u = np.empty(min(BLOCK, stop - start), np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            for s in blocks(start, stop):
                _cdf_block(flat[s], cdf[s], u[:s.stop - s.start])
                np.multiply(flat[s], cdf[s], out=out[s])

    parallel(flat.size, part)
    return out.reshape(x.shape), cdf.reshape(x.shape)


def gelu_backward(x: np.ndarray, cdf: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """``grad * (Phi(x) + x phi(x))``, phi(x) = exp(-x^2/2) / sqrt(2 pi), for float32 arrays.

    NOTE: x^2 overflows to inf past |x| = 1.8e19, where exp(-inf) = 0 gives the right
    limit; at x = +-inf the product inf * 0 is NaN, as in PyTorch.
    """
    flat_x = np.ascontiguousarray(x).reshape(-1)
    flat_c = np.ascontiguousarray(cdf).reshape(-1)
    flat_g = np.ascontiguousarray(grad, dtype=np.float32).reshape(-1)
    out = np.empty_like(flat_x)

    def part(start, stop):
        with np.errstate(over="ignore", invalid="ignore"):
            for s in blocks(start, stop):
                t = out[s]
                xs = flat_x[s]
                np.multiply(xs, xs, out=t)
                t *= _MINUS_HALF
                np.exp(t, out=t)
                t *= xs
                t *= _INV_SQRT_2PI
                t += flat_c[s]
                t *= flat_g[s]

    parallel(flat_x.size, part)
    return out.reshape(x.shape)


# -- tanh form: x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) --------------------------------

_TANH_A = -2.0 * math.sqrt(2.0 / math.pi)  # -2u = x (A + B x^2)
_TANH_B = _TANH_A * 0.044715
_A32, _B32 = _f32(_TANH_A), _f32(_TANH_B)
_MINUS_A32, _MINUS_3B32 = _f32(-_TANH_A), _f32(-3.0 * _TANH_B)
_ZERO, _ONE = _f32(0.0), _f32(1.0)
#: x^2 is clipped here in backward: an infinite x^2 times s (1 - s) = 0 would be NaN.
_SQUARE_MAX = _f32(1e30)


def gelu_tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x s, s)`` with ``s = sigmoid(2u) = (1 + tanh u) / 2`` of a float32 array.

    NOTE: exp(-2u) overflows to inf for x below about -9.3, where 1 / inf = 0 gives the
    right limit; at x = -inf the product -inf * 0 is NaN, as in PyTorch.
    """
    flat = np.ascontiguousarray(x).reshape(-1)
    out, sig = np.empty_like(flat), np.empty_like(flat)

    def part(start, stop):
        with np.errstate(over="ignore", invalid="ignore"):
            for s in blocks(start, stop):
                xs, t = flat[s], sig[s]
                np.multiply(xs, xs, out=t)
                t *= _B32
                t += _A32
                t *= xs
                np.exp(t, out=t)
                t += _ONE
                np.reciprocal(t, out=t)
                np.multiply(xs, t, out=out[s])

    parallel(flat.size, part)
    return out.reshape(x.shape), sig.reshape(x.shape)


def gelu_tanh_backward(x: np.ndarray, sig: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """``grad * (s + x s (1 - s) dv/dx)``, ``v = 2u``, ``dv/dx = -(A + 3B x^2)``, for float32 arrays."""
    flat_x = np.ascontiguousarray(x).reshape(-1)
    flat_s = np.ascontiguousarray(sig).reshape(-1)
    flat_g = np.ascontiguousarray(grad, dtype=np.float32).reshape(-1)
    out = np.empty_like(flat_x)

    def part(start, stop):
        w = np.empty(min(BLOCK, stop - start), np.float32)
        with np.errstate(over="ignore"):
            for s in blocks(start, stop):
                xs, ss, t = flat_x[s], flat_s[s], out[s]
                ws = w[:s.stop - s.start]
                np.multiply(xs, xs, out=ws)
                np.clip(ws, _ZERO, _SQUARE_MAX, out=ws)
                ws *= _MINUS_3B32
                ws += _MINUS_A32
                np.subtract(_ONE, ss, out=t)
                t *= ss
                t *= xs  # s (1 - s) is exactly 0 long before x s (1 - s) or the polynomial could overflow
                t *= ws
                t += ss
                t *= flat_g[s]

    parallel(flat_x.size, part)
    return out.reshape(x.shape)
