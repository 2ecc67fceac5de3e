"""Elementwise math of one tensor: exp, log, sqrt, trigonometry, tanh, sigmoid, erf, rounding.

Each primitive keeps only what its backward needs: the output where the derivative is a
function of it (exp, sqrt, tanh, sigmoid, reciprocal), else the input. Backward passes
allocate one fresh array and work in place on it. Integer inputs to the transcendental
functions are cast to the default float dtype first, as in PyTorch; ``abs``, ``sign``,
``floor``, ``ceil`` and ``round`` keep integer dtypes.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from ..autograd.function import Function
from ._operands import floating

__all__ = ["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "erf", "abs",
           "sign", "floor", "ceil", "round", "reciprocal"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _own(xp, x):
    """``x`` as an array ufuncs can write into: NumPy returns 0-d results as immutable scalars."""
    return x if x.ndim else xp.asarray(x)


_BLOCK = 1 << 15


def _blockwise(xp, kernel, *arrays):
    """``kernel(*arrays)``, for an elementwise kernel of many passes that returns a tuple of
    arrays shaped like its inputs, run on blocks of 32K elements when the arrays are large.

    NOTE: each NumPy call is one pass over memory; on blocks, a kernel's temporaries stay in
    cache instead, which makes a 25-pass kernel (erf, GELU) several times faster on arrays of
    a few megabytes. Other namespaces (CuPy) and non-contiguous arrays run whole.
    """
    first = arrays[0]
    n = first.size
    if xp is not np or n < 4 * _BLOCK or any(a.shape != first.shape or not a.flags.c_contiguous for a in arrays):
        return kernel(*arrays)
    flat = [a.reshape(-1) for a in arrays]
    outs = None
    for start in range(0, n, _BLOCK):
        results = kernel(*[f[start:start + _BLOCK] for f in flat])
        if outs is None:
            outs = [xp.empty(n, r.dtype) for r in results]
        for o, r in zip(outs, results):
            o[start:start + _BLOCK] = r
    return tuple(o.reshape(first.shape) for o in outs)


def _is_half(a) -> bool:
    """float16 and bfloat16: multi-step formulas run in float32 and round once, as PyTorch's do."""
    return a.dtype.itemsize < 4


# -- primitives ----------------------------------------------------------------------------


class Exp(Function):
    def forward(self, a):
        out = self.xp.exp(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * out


class Log(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return self.xp.log(a)

    def backward(self, grad):
        (a,) = self.saved
        return grad / a


class Log1p(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return self.xp.log1p(a)

    def backward(self, grad):
        (a,) = self.saved
        t = _own(self.xp, a + 1)
        return self.xp.divide(grad, t, out=t)


class Expm1(Function):
    def forward(self, a):
        out = self.xp.expm1(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        t = out + 1
        t *= grad
        return t


class Sqrt(Function):
    def forward(self, a):
        out = self.xp.sqrt(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        t = grad * 0.5
        t /= out
        return t


class Rsqrt(Function):
    def forward(self, a):
        out = _own(self.xp, self.xp.sqrt(a))
        self.xp.reciprocal(out, out=out)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved  # d(a^-1/2)/da = -a^-3/2 / 2 = -out^3 / 2
        t = out * out
        t *= out
        t *= grad
        t *= -0.5
        return t


class Sin(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return self.xp.sin(a)

    def backward(self, grad):
        (a,) = self.saved
        t = self.xp.cos(a)
        t *= grad
        return t


class Cos(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return self.xp.cos(a)

    def backward(self, grad):
        (a,) = self.saved
        t = self.xp.sin(a)
        t *= grad
        t *= -1
        return t


class Tanh(Function):
    def forward(self, a):
        out = self.xp.tanh(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        t = _own(self.xp, out * out)
        self.xp.subtract(1, t, out=t)
        t *= grad
        return t


def _quiet_overflow(xp):
    """A context in which NumPy does not warn about overflow (to inf) that the caller expects."""
    errstate = getattr(xp, "errstate", None)
    return errstate(over="ignore") if errstate is not None else contextlib.nullcontext()


def _sigmoid(xp, a):
    """``1 / (1 + exp(-a))`` as a fresh array; finite for every input that isn't nan."""
    if _is_half(a):
        return _sigmoid(xp, a.astype(np.float32)).astype(a.dtype)
    t = _own(xp, -a)
    # NOTE: exp(-a) overflows to inf for a < -88.7 in float32; 1 / (1 + inf) = 0 is then the
    # right answer, so the overflow is expected and NumPy's warning about it silenced.
    with _quiet_overflow(xp):
        xp.exp(t, out=t)
    t += 1
    return xp.reciprocal(t, out=t)


class Sigmoid(Function):
    def forward(self, a):
        out = _sigmoid(self.xp, a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved  # sigmoid' = s (1 - s)
        t = _own(self.xp, 1 - out)
        t *= out
        t *= grad
        return t


class Erf(Function):
    def forward(self, a):
        self.save_for_backward(a)
        xp = self.xp
        return _blockwise(xp, lambda x: (_erf(xp, x),), a)[0]

    def backward(self, grad):
        (a,) = self.saved  # erf'(x) = 2/sqrt(pi) exp(-x^2)
        xp = self.xp
        t = _own(xp, xp.clip(a, -27.0, 27.0))  # exp(-27^2) underflows; a^2 must not overflow
        t *= t
        xp.negative(t, out=t)
        xp.exp(t, out=t)
        t *= _TWO_OVER_SQRT_PI
        t *= grad
        return t


class Abs(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return self.xp.abs(a)

    def backward(self, grad):
        (a,) = self.saved  # the subgradient 0 at 0, as PyTorch
        t = self.xp.sign(a)
        t *= grad
        return t


class Reciprocal(Function):
    def forward(self, a):
        out = self.xp.reciprocal(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved  # d(1/a)/da = -1/a^2 = -out^2
        t = out * out
        t *= grad
        t *= -1
        return t


class Sign(Function):
    differentiable = False

    def forward(self, a):
        return a.copy() if a.dtype.kind == "b" else self.xp.sign(a)


class Floor(Function):
    differentiable = False

    def forward(self, a):
        return a.copy() if a.dtype.kind in "biu" else self.xp.floor(a)


class Ceil(Function):
    differentiable = False

    def forward(self, a):
        return a.copy() if a.dtype.kind in "biu" else self.xp.ceil(a)


class Round(Function):
    differentiable = False

    def forward(self, a, decimals):
        if a.dtype.kind in "biu" and decimals >= 0:
            return a.copy()
        return self.xp.round(a, decimals)


# -- erf -----------------------------------------------------------------------------------
# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
# (1969): three rational approximations, accurate to double precision, on |x| <= 0.46875
# (erf), 0.46875 < |x| <= 4 and |x| > 4 (erfc).

_CODY_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
           1.85777706184603153e-1)
_CODY_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_CODY_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
           8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
           2.15311535474403846e-8)
_CODY_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
           3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_CODY_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
           6.58749161529837803e-4, 1.63153871373020978e-2)
_CODY_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
           2.33520497626869185e-3)
_RSQRT_PI = 1.0 / math.sqrt(math.pi)
_CODY_SMALL = 0.46875


def _cody_erf_small(xp, x):
    """erf(x) for |x| <= 0.46875 (``x`` is clipped to that range)."""
    x = xp.clip(x, -_CODY_SMALL, _CODY_SMALL)
    z = x * x
    num = _own(xp, z * _CODY_A[4])
    den = _own(xp, z.copy())
    for i in range(3):
        num += _CODY_A[i]
        num *= z
        den += _CODY_B[i]
        den *= z
    num += _CODY_A[3]
    den += _CODY_B[3]
    num *= x
    num /= den
    return num


def _cody_erfc_pos(xp, y):
    """erfc(y) for y >= 0.46875 (smaller ``y`` are clipped up), with exp(-y^2) computed once."""
    big = y > 4.0
    any_big = bool(big.any())
    y2 = _own(xp, xp.clip(y, _CODY_SMALL, 4.0))
    num = y2 * _CODY_C[8]
    den = y2.copy()
    for i in range(7):
        num += _CODY_C[i]
        num *= y2
        den += _CODY_D[i]
        den *= y2
    num += _CODY_C[7]
    den += _CODY_D[7]
    num /= den
    if any_big:
        y3 = xp.clip(y, 4.0, 1e8)  # past 1e8 the result is exp(-y^2) = 0 anyway; y^2 must not overflow
        z = _own(xp, y3 * y3)
        xp.reciprocal(z, out=z)
        num3 = z * _CODY_P[5]
        den3 = z.copy()
        for i in range(4):
            num3 += _CODY_P[i]
            num3 *= z
            den3 += _CODY_Q[i]
            den3 *= z
        num3 += _CODY_P[4]
        den3 += _CODY_Q[4]
        num3 *= z
        num3 /= den3
        xp.subtract(_RSQRT_PI, num3, out=num3)
        num3 /= y3
        num = xp.where(big, num3, num)
    e = _own(xp, xp.minimum(y, 40.0))  # exp(-40^2) is 0 in double precision; y^2 must not overflow
    e *= e
    xp.negative(e, out=e)
    xp.exp(e, out=e)
    num *= e
    return num


# Single precision: one odd rational function of x on [-4, 4] (erf(4) rounds to 1 in float32),
# absolute error below 5e-7; the same approximation as Eigen's and XLA's float erf.
_F32_ALPHA = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
              -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
_F32_BETA = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
             -1.42647390514189e-02)


def _erf_f32(xp, x):
    x = _own(xp, xp.clip(x, -4.0, 4.0))
    x2 = x * x
    p = _own(xp, x2 * _F32_ALPHA[0])
    for c in _F32_ALPHA[1:-1]:
        p += c
        p *= x2
    p += _F32_ALPHA[-1]
    p *= x
    q = _own(xp, x2 * _F32_BETA[0])
    for c in _F32_BETA[1:-1]:
        q += c
        q *= x2
    q += _F32_BETA[-1]
    p /= q
    return p


def _erf(xp, x):
    """erf(x) as a fresh array of x's dtype: double precision for float64, float32 otherwise."""
    if not x.ndim:  # the helpers write in place, which NumPy's 0-d results (scalars) don't allow
        return _erf(xp, x.reshape(1)).reshape(())
    if x.dtype != np.float64:
        if x.dtype == np.float32:
            return _erf_f32(xp, x)
        return _erf_f32(xp, x.astype(np.float32)).astype(x.dtype)
    y = xp.abs(x)
    out = _cody_erfc_pos(xp, y)
    xp.subtract(1.0, out, out=out)
    xp.copysign(out, x, out=out)
    return xp.where(y <= _CODY_SMALL, _cody_erf_small(xp, x), out)


def _normal_cdf(xp, x):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2 as a fresh array; in float64 the lower tail keeps its
    relative precision (computed as erfc(|z|) / 2, not as 1 - something close to 1)."""
    if not x.ndim:
        return _normal_cdf(xp, x.reshape(1)).reshape(())
    z = _own(xp, x * (1.0 / math.sqrt(2.0)))
    if x.dtype != np.float64:
        t = _erf(xp, z)
        t *= 0.5
        t += 0.5
        return t
    y = xp.abs(z)
    half_erfc = _cody_erfc_pos(xp, y)
    half_erfc *= 0.5
    tail = xp.where(z > 0, 1.0 - half_erfc, half_erfc)
    small = _cody_erf_small(xp, z)
    small *= 0.5
    small += 0.5
    return xp.where(y <= _CODY_SMALL, small, tail)


# -- public functions ----------------------------------------------------------------------


def exp(input):
    """``e^x``, elementwise.

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> ember.exp(ember.tensor([0.0, 1.0])).tolist()
    [1.0, 2.7182819843292236]
    """
    return Exp.apply(floating(input))


def log(input):
    """Natural logarithm ``ln x``, elementwise (``-inf`` at 0, ``nan`` below).

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> ember.log(ember.tensor([1.0, 4.0])).tolist()
    [0.0, 1.3862943649291992]
    """
    return Log.apply(floating(input))


def log1p(input):
    """``ln(1 + x)``, accurate for small ``x``.

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> ember.log1p(ember.tensor([0.0, 1e-10], dtype=ember.float64)).tolist()
    [0.0, 9.999999999500001e-11]
    """
    return Log1p.apply(floating(input))


def expm1(input):
    """``e^x - 1``, accurate for small ``x``.

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> ember.expm1(ember.tensor([0.0, 1e-10], dtype=ember.float64)).tolist()
    [0.0, 1.00000000005e-10]
    """
    return Expm1.apply(floating(input))


def sqrt(input):
    """``sqrt(x)``, elementwise; gradient ``1 / (2 sqrt x)``.

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> ember.sqrt(ember.tensor([4.0, 9.0])).tolist()
    [2.0, 3.0]
    """
    return Sqrt.apply(floating(input))


def rsqrt(input):
    """``1 / sqrt(x)``, elementwise; gradient ``-x^(-3/2) / 2``.

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> ember.rsqrt(ember.tensor([4.0, 0.25])).tolist()
    [0.5, 2.0]
    """
    return Rsqrt.apply(floating(input))


def sin(input):
    """``sin x`` (radians), elementwise; gradient ``cos x``.

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> ember.sin(ember.tensor([0.0])).tolist()
    [0.0]
    """
    return Sin.apply(floating(input))


def cos(input):
    """``cos x`` (radians), elementwise; gradient ``-sin x``.

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> ember.cos(ember.tensor([0.0])).tolist()
    [1.0]
    """
    return Cos.apply(floating(input))


def tanh(input):
    """``tanh x``, elementwise; gradient ``1 - tanh^2 x`` (from the saved output).

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> ember.tanh(ember.tensor([0.0, 100.0])).tolist()
    [0.0, 1.0]
    """
    return Tanh.apply(floating(input))


def sigmoid(input):
    """The logistic function ``1 / (1 + e^-x)``; gradient ``s (1 - s)`` from the saved output.

    Finite for every finite input, with no overflow warning: ``sigmoid(-1e4)`` is 0 in float32.

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> ember.sigmoid(ember.tensor([0.0, -1e4, 1e4])).tolist()
    [0.5, 0.0, 1.0]
    """
    return Sigmoid.apply(floating(input))


def erf(input):
    """The error function ``erf x = 2/sqrt(pi) * integral_0^x e^(-t^2) dt``; gradient
    ``2/sqrt(pi) e^(-x^2)``.

    Double-precision accurate in float64 (Cody's rational approximations); float32 and lower use
    a single-precision rational approximation (absolute error below 5e-7).

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> f"{ember.erf(ember.tensor([1.0], dtype=ember.float64)).item():.12f}"
    '0.842700792950'
    """
    return Erf.apply(floating(input))


def abs(input):  # noqa: A001 - PyTorch's name
    """``|x|``, elementwise; gradient ``sign x`` (0 at 0). Integer tensors stay integer.

    Args:
        input: a tensor.

    >>> import ember
    >>> ember.abs(ember.tensor([-2.0, 3.0])).tolist()
    [2.0, 3.0]
    """
    return Abs.apply(input)


def sign(input):
    """-1, 0 or 1 by the sign of each element (no gradient). Keeps the dtype.

    Args:
        input: a tensor.

    >>> import ember
    >>> ember.sign(ember.tensor([-2.0, 0.0, 3.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    return Sign.apply(input)


def floor(input):
    """The largest integer ``<= x``, elementwise (no gradient). Keeps the dtype.

    Args:
        input: a tensor.

    >>> import ember
    >>> ember.floor(ember.tensor([-1.5, 1.5])).tolist()
    [-2.0, 1.0]
    """
    return Floor.apply(input)


def ceil(input):
    """The smallest integer ``>= x``, elementwise (no gradient). Keeps the dtype.

    Args:
        input: a tensor.

    >>> import ember
    >>> ember.ceil(ember.tensor([-1.5, 1.5])).tolist()
    [-1.0, 2.0]
    """
    return Ceil.apply(input)


def round(input, decimals: int = 0):  # noqa: A001 - PyTorch's name
    """Round to ``decimals`` decimal places, halves to even (no gradient). Keeps the dtype.

    Args:
        input: a tensor.
        decimals: how many decimal places to keep (negative rounds to tens, hundreds...).

    >>> import ember
    >>> ember.round(ember.tensor([0.5, 1.5, 2.5, -0.5])).tolist()
    [0.0, 2.0, 2.0, -0.0]
    """
    return Round.apply(input, decimals=int(decimals))


def reciprocal(input):
    """``1 / x``, elementwise; gradient ``-1 / x^2`` (from the saved output).

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).

    >>> import ember
    >>> ember.reciprocal(ember.tensor([2.0, -4.0])).tolist()
    [0.5, -0.25]
    """
    return Reciprocal.apply(floating(input))
