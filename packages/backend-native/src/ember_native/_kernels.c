/* ember-backend-native's compiled kernels in float32: exact and tanh GELU, SiLU, layer and RMS norm.
 *
 * NumPy runs one pass over memory per call, so an op of many steps (GELU's rational
 * function, layer norm's statistics) costs a pass per step. Written as one C loop, each
 * element is loaded once, every step runs in registers, and the compiler turns the loop
 * into SIMD instructions (8 floats at a time with AVX2). That is the whole trick: the math
 * is the same as in ember's NumPy kernels (ember/ops/gelu_float32.py and
 * ember/nn/functional/normalization.py).
 *
 * Each function works on one contiguous range and releases the GIL, so ember's threads
 * (ember.host_threads) run several ranges at once; the Python side chooses the ranges.
 *
 * Vectorising: the loops are written so GCC and Clang vectorise them without -ffast-math
 * (which would change results on NaN and infinity). Branches are conditional expressions,
 * which become blends; sums are `#pragma omp simd reduction` loops (-fopenmp-simd: the
 * reduction order changes, nothing else). With FMA the compiler may fuse a * b + c into one
 * rounding instead of two (GCC's default); the tests allow for both. On x86-64 Linux each kernel is also built for
 * x86-64-v3 (AVX2 + FMA), picked at load time when the CPU has it (target_clones).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

/* ---- exact GELU: x Phi(x), and its gradient Phi(x) + x phi(x) -------------------------- */

/* Phi(x) - 1/2 = x P(u) / Q(u), u = x^2: the minimax fit of ember.ops.gelu_float32 (error
 * 2.5e-8 on |x| <= 5.6), evaluated by Horner's rule: here a division costs more than the
 * multiply-adds, the opposite of NumPy, where the continued fraction wins. */
static const float P0 = 0.3989422633934237f, P1 = 0.034909969917950624f, P2 = 0.004738899469401457f,
                   P3 = 0.00017889159080201317f, P4 = 6.357434776412732e-06f, P5 = 2.1557329518515217e-08f;
static const float Q1 = 0.25417209528969187f, Q2 = 0.029242515778232486f, Q3 = 0.0019424354337066047f,
                   Q4 = 7.651513068279128e-05f, Q5 = 1.1628226201563509e-06f;
static const float INV_SQRT_2PI = 0.3989422804014327f;

static inline float normal_cdf(float x) {
    /* NOTE: past |x| = 5.6 x P / Q rises above 1/2 and is clipped there, so Phi is exactly
     * 0 or 1 from |x| = 6 on. u is capped at 64 (|x| = 8) so that P and Q never overflow;
     * x P / Q stays past 1/2 beyond it. A NaN fails every comparison and stays NaN. */
    float u = x * x;
    u = u > 64.0f ? 64.0f : u;
    float p = ((((P5 * u + P4) * u + P3) * u + P2) * u + P1) * u + P0;
    float q = ((((Q5 * u + Q4) * u + Q3) * u + Q2) * u + Q1) * u + 1.0f;
    float r = x * p / q;
    r = r > 0.5f ? 0.5f : r;
    r = r < -0.5f ? -0.5f : r;
    return r + 0.5f;
}

/* exp(t) for -87 <= t <= 87, to 2 ulp: t = k ln 2 + f with |f| <= ln(2)/2, exp(f) by Cephes'
 * expf polynomial, 2^k from the exponent bits (k stays in the normal range). Callers clamp t
 * first and pick the limits (0, 1, ...) beyond +-87 themselves. */
static inline float exp_core(float t) {
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: v + magic rounds v to an integer */
    float v = t * 1.44269504088896341f + round_magic;
    float k = v - round_magic;
    float f = t - k * 0.693359375f; /* ln 2 in two parts, so k ln 2 is exact to float */
    f = f - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * f + 1.3981999507e-3f;
    p = p * f + 8.3334519073e-3f;
    p = p * f + 4.1665795894e-2f;
    p = p * f + 1.6666665459e-1f;
    p = p * f + 5.0000001201e-1f;
    p = p * f * f + f + 1.0f;
    int32_t bits;
    memcpy(&bits, &v, sizeof bits); /* the low mantissa bits of v hold k */
    int32_t exponent = ((bits - 0x4B400000) + 127) << 23;
    float two_k;
    memcpy(&two_k, &exponent, sizeof two_k);
    return p * two_k;
}

static inline float clamp87(float t) {
    t = t < -87.0f ? -87.0f : t;
    return t > 87.0f ? 87.0f : t;
}

/* exp(t) for t <= 0; 0 below -87 (e^-87 is 1.6e-38). */
static inline float exp_nonpositive(float t) {
    float e = exp_core(clamp87(t));
    return t < -87.0f ? 0.0f : e;
}

/* 1 / (1 + exp(-x)): exactly 0 below x = -87 and 1 above 87 (within 1.6e-38 of the truth). */
static inline float sigmoid(float x) {
    float s = 1.0f / (1.0f + exp_core(clamp87(-x)));
    s = x < -87.0f ? 0.0f : s;
    return x > 87.0f ? 1.0f : s;
}

MULTIVERSION static void gelu_forward(const float *restrict x, float *restrict out, float *restrict cdf,
                                      Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        float c = normal_cdf(x[i]);
        cdf[i] = c;
        out[i] = x[i] * c;
    }
}

MULTIVERSION static void gelu_backward(const float *restrict x, const float *restrict cdf,
                                       const float *restrict grad, float *restrict out, Py_ssize_t n) {
    /* x = +-inf gives x * phi = inf * 0 = NaN, as in PyTorch. */
    for (Py_ssize_t i = 0; i < n; i++) {
        float xi = x[i];
        out[i] = grad[i] * (cdf[i] + xi * INV_SQRT_2PI * exp_nonpositive(-0.5f * xi * xi));
    }
}

/* ---- tanh GELU (GPT-2's) and SiLU: x s with s a sigmoid ---------------------------------- */

/* GELU's tanh form x (1 + tanh u) / 2 = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3), as in
 * ember.ops.gelu_float32: 2u = -x (A + B x^2). An x^2 or x^3 that overflows gives a sigmoid
 * of exactly 0 or 1. Backward: s + x s (1 - s) d(2u)/dx, d(2u)/dx = -(A + 3 B x^2). */
static const float TANH_A = -1.5957691216057308f; /* -2 sqrt(2/pi) */
static const float TANH_B = -0.07135481627159722f; /* A * 0.044715 */

MULTIVERSION static void gelu_tanh_forward(const float *restrict x, float *restrict out, float *restrict sig,
                                           Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        float xi = x[i];
        float s = sigmoid(-xi * (TANH_A + TANH_B * xi * xi));
        sig[i] = s;
        out[i] = xi * s;
    }
}

MULTIVERSION static void gelu_tanh_backward(const float *restrict x, const float *restrict sig,
                                            const float *restrict grad, float *restrict out, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        float xi = x[i], s = sig[i];
        float square = xi * xi;
        square = square > 1e30f ? 1e30f : square; /* an infinite x^2 times s (1 - s) = 0 would be NaN */
        float slope = -TANH_A - 3.0f * TANH_B * square;
        /* s (1 - s) is exactly 0 long before x s (1 - s) or the slope could overflow */
        out[i] = grad[i] * ((1.0f - s) * s * xi * slope + s);
    }
}

/* SiLU x sigmoid(x); backward s (1 + x (1 - s)). */
MULTIVERSION static void silu_forward(const float *restrict x, float *restrict out, float *restrict sig,
                                      Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        float s = sigmoid(x[i]);
        sig[i] = s;
        out[i] = x[i] * s;
    }
}

MULTIVERSION static void silu_backward(const float *restrict x, const float *restrict sig,
                                       const float *restrict grad, float *restrict out, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        float s = sig[i];
        out[i] = grad[i] * (s * (1.0f + x[i] * (1.0f - s)));
    }
}

/* ---- layer norm and RMS norm over rows of n elements ----------------------------------- */

/* y = (x - mean) rstd w + b, rstd = 1 / sqrt(var + eps); RMS norm: mean = 0, no b.
 * weight and bias may be NULL. mean is written only for layer norm. */
MULTIVERSION static void norm_forward(const float *restrict x, const float *restrict weight,
                                      const float *restrict bias, float *restrict out, float *restrict mean,
                                      float *restrict rstd, Py_ssize_t rows, Py_ssize_t n, float eps, int rms) {
    for (Py_ssize_t i = 0; i < rows; i++) {
        const float *restrict xr = x + i * n;
        float *restrict o = out + i * n;
        float m = 0.0f;
        if (!rms) {
            float s = 0.0f;
            #pragma omp simd reduction(+:s)
            for (Py_ssize_t j = 0; j < n; j++) s += xr[j];
            m = s / (float)n;
            mean[i] = m;
        }
        float ss = 0.0f;  /* the centred sum of squares: no cancellation, unlike E[x^2] - mean^2 */
        #pragma omp simd reduction(+:ss)
        for (Py_ssize_t j = 0; j < n; j++) {
            float d = xr[j] - m;
            ss += d * d;
        }
        float r = 1.0f / sqrtf(ss / (float)n + eps);
        rstd[i] = r;
        if (weight && bias) {
            #pragma omp simd
            for (Py_ssize_t j = 0; j < n; j++) o[j] = (xr[j] - m) * r * weight[j] + bias[j];
        } else if (weight) {
            #pragma omp simd
            for (Py_ssize_t j = 0; j < n; j++) o[j] = (xr[j] - m) * r * weight[j];
        } else if (bias) {
            #pragma omp simd
            for (Py_ssize_t j = 0; j < n; j++) o[j] = (xr[j] - m) * r + bias[j];
        } else {
            #pragma omp simd
            for (Py_ssize_t j = 0; j < n; j++) o[j] = (xr[j] - m) * r;
        }
    }
}

/* With x_hat = (x - mean) rstd and g_hat = g w (g where there is no weight):
 *   dx = rstd (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat))   (RMS norm: no mean(g_hat))
 *   dweight += g x_hat,  dbias += g   (summed over this call's rows, added to what is there)
 * dweight and dbias may be NULL. */
MULTIVERSION static void norm_backward(const float *restrict x, const float *restrict grad,
                                       const float *restrict weight, const float *restrict mean,
                                       const float *restrict rstd, float *restrict dx, float *restrict dweight,
                                       float *restrict dbias, Py_ssize_t rows, Py_ssize_t n, int rms) {
    for (Py_ssize_t i = 0; i < rows; i++) {
        const float *restrict xr = x + i * n, *restrict g = grad + i * n;
        float *restrict o = dx + i * n;
        float m = rms ? 0.0f : mean[i], r = rstd[i];
        float sum_g = 0.0f, sum_gx = 0.0f;
        if (weight) {
            #pragma omp simd reduction(+:sum_g, sum_gx)
            for (Py_ssize_t j = 0; j < n; j++) {
                float gh = g[j] * weight[j];
                sum_g += gh;
                sum_gx += gh * (xr[j] - m);
            }
        } else {
            #pragma omp simd reduction(+:sum_g, sum_gx)
            for (Py_ssize_t j = 0; j < n; j++) {
                sum_g += g[j];
                sum_gx += g[j] * (xr[j] - m);
            }
        }
        float mean_g = rms ? 0.0f : sum_g / (float)n;
        float mean_gx = sum_gx * r / (float)n;
        if (weight && dweight && dbias) {  /* the usual case, in one pass over the row */
            #pragma omp simd
            for (Py_ssize_t j = 0; j < n; j++) {
                float xhat = (xr[j] - m) * r;
                o[j] = r * (g[j] * weight[j] - mean_g - xhat * mean_gx);
                dweight[j] += g[j] * xhat;
                dbias[j] += g[j];
            }
            continue;
        }
        if (weight) {
            #pragma omp simd
            for (Py_ssize_t j = 0; j < n; j++)
                o[j] = r * (g[j] * weight[j] - mean_g - (xr[j] - m) * r * mean_gx);
        } else {
            #pragma omp simd
            for (Py_ssize_t j = 0; j < n; j++)
                o[j] = r * (g[j] - mean_g - (xr[j] - m) * r * mean_gx);
        }
        if (dweight) {
            #pragma omp simd
            for (Py_ssize_t j = 0; j < n; j++) dweight[j] += g[j] * (xr[j] - m) * r;
        }
        if (dbias) {
            #pragma omp simd
            for (Py_ssize_t j = 0; j < n; j++) dbias[j] += g[j];
        }
    }
}

/* ---- Python bindings: buffers in, nothing out; sizes are checked here --------------------- */

static int check_floats(Py_buffer *b, Py_ssize_t count, const char *name) {
    if (b->buf != NULL && b->len != count * (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd float32 values (%zd bytes), got %zd bytes",
                     name, count, count * (Py_ssize_t)sizeof(float), b->len);
        return 0;
    }
    return 1;
}

static void release(Py_buffer *buffers[], int count) {
    for (int i = 0; i < count; i++)
        if (buffers[i]->obj != NULL) PyBuffer_Release(buffers[i]);
}

typedef void (*elementwise_forward)(const float *, float *, float *, Py_ssize_t);
typedef void (*elementwise_backward)(const float *, const float *, const float *, float *, Py_ssize_t);

/* f(x, out, saved): out and what backward needs (Phi(x) or a sigmoid), all of x's size. */
static PyObject *run_forward(PyObject *args, elementwise_forward kernel) {
    Py_buffer x = {0}, out = {0}, saved = {0};
    Py_buffer *all[] = {&x, &out, &saved};
    if (!PyArg_ParseTuple(args, "y*w*w*", &x, &out, &saved)) return NULL; /* it releases what it took */
    Py_ssize_t n = x.len / (Py_ssize_t)sizeof(float);
    if (!check_floats(&out, n, "out") || !check_floats(&saved, n, "saved")) { release(all, 3); return NULL; }
    Py_BEGIN_ALLOW_THREADS
    kernel(x.buf, out.buf, saved.buf, n);
    Py_END_ALLOW_THREADS
    release(all, 3);
    Py_RETURN_NONE;
}

/* f(x, saved, grad, out): out = grad times the derivative. */
static PyObject *run_backward(PyObject *args, elementwise_backward kernel) {
    Py_buffer x = {0}, saved = {0}, grad = {0}, out = {0};
    Py_buffer *all[] = {&x, &saved, &grad, &out};
    if (!PyArg_ParseTuple(args, "y*y*y*w*", &x, &saved, &grad, &out)) return NULL;
    Py_ssize_t n = x.len / (Py_ssize_t)sizeof(float);
    if (!check_floats(&saved, n, "saved") || !check_floats(&grad, n, "grad") || !check_floats(&out, n, "out")) {
        release(all, 4);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    kernel(x.buf, saved.buf, grad.buf, out.buf, n);
    Py_END_ALLOW_THREADS
    release(all, 4);
    Py_RETURN_NONE;
}

static PyObject *py_gelu_forward(PyObject *self, PyObject *args) { return run_forward(args, gelu_forward); }
static PyObject *py_gelu_backward(PyObject *self, PyObject *args) { return run_backward(args, gelu_backward); }
static PyObject *py_gelu_tanh_forward(PyObject *self, PyObject *args) { return run_forward(args, gelu_tanh_forward); }
static PyObject *py_gelu_tanh_backward(PyObject *self, PyObject *args) {
    return run_backward(args, gelu_tanh_backward);
}
static PyObject *py_silu_forward(PyObject *self, PyObject *args) { return run_forward(args, silu_forward); }
static PyObject *py_silu_backward(PyObject *self, PyObject *args) { return run_backward(args, silu_backward); }

static PyObject *py_norm_forward(PyObject *self, PyObject *args) {
    Py_buffer x = {0}, weight = {0}, bias = {0}, out = {0}, mean = {0}, rstd = {0};
    Py_buffer *all[] = {&x, &weight, &bias, &out, &mean, &rstd};
    Py_ssize_t n;
    float eps;
    int rms;
    if (!PyArg_ParseTuple(args, "y*z*z*w*z*w*nfp", &x, &weight, &bias, &out, &mean, &rstd, &n, &eps, &rms))
        return NULL;
    Py_ssize_t rows = n > 0 ? x.len / (Py_ssize_t)sizeof(float) / n : 0;
    if (n <= 0 || !check_floats(&x, rows * n, "x") || !check_floats(&weight, n, "weight") ||
        !check_floats(&bias, n, "bias") || !check_floats(&out, rows * n, "out") ||
        !check_floats(&rstd, rows, "rstd") || !check_floats(&mean, rows, "mean") || (!rms && mean.buf == NULL)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "norm_forward: n must be positive and layer norm needs mean");
        release(all, 6);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    norm_forward(x.buf, weight.buf, bias.buf, out.buf, mean.buf, rstd.buf, rows, n, eps, rms);
    Py_END_ALLOW_THREADS
    release(all, 6);
    Py_RETURN_NONE;
}

static PyObject *py_norm_backward(PyObject *self, PyObject *args) {
    Py_buffer x = {0}, grad = {0}, weight = {0}, mean = {0}, rstd = {0}, dx = {0}, dweight = {0}, dbias = {0};
    Py_buffer *all[] = {&x, &grad, &weight, &mean, &rstd, &dx, &dweight, &dbias};
    Py_ssize_t n;
    int rms;
    if (!PyArg_ParseTuple(args, "y*y*z*z*y*w*z*z*np", &x, &grad, &weight, &mean, &rstd, &dx, &dweight, &dbias,
                          &n, &rms))
        return NULL;
    Py_ssize_t rows = n > 0 ? x.len / (Py_ssize_t)sizeof(float) / n : 0;
    if (n <= 0 || !check_floats(&x, rows * n, "x") || !check_floats(&grad, rows * n, "grad") ||
        !check_floats(&weight, n, "weight") || !check_floats(&mean, rows, "mean") ||
        !check_floats(&rstd, rows, "rstd") || !check_floats(&dx, rows * n, "dx") ||
        !check_floats(&dweight, n, "dweight") || !check_floats(&dbias, n, "dbias") || (!rms && mean.buf == NULL)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "norm_backward: n must be positive and layer norm needs mean");
        release(all, 8);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    norm_backward(x.buf, grad.buf, weight.buf, mean.buf, rstd.buf, dx.buf, dweight.buf, dbias.buf, rows, n, rms);
    Py_END_ALLOW_THREADS
    release(all, 8);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"gelu_forward", py_gelu_forward, METH_VARARGS,
     "gelu_forward(x, out, saved): out = x Phi(x), saved = Phi(x), for contiguous float32 buffers."},
    {"gelu_backward", py_gelu_backward, METH_VARARGS,
     "gelu_backward(x, saved, grad, out): out = grad (Phi(x) + x phi(x))."},
    {"gelu_tanh_forward", py_gelu_tanh_forward, METH_VARARGS,
     "gelu_tanh_forward(x, out, saved): out = x s, saved = s = sigmoid(2u) = (1 + tanh u) / 2."},
    {"gelu_tanh_backward", py_gelu_tanh_backward, METH_VARARGS,
     "gelu_tanh_backward(x, saved, grad, out): out = grad (s + x s (1 - s) d(2u)/dx)."},
    {"silu_forward", py_silu_forward, METH_VARARGS,
     "silu_forward(x, out, saved): out = x s, saved = s = sigmoid(x)."},
    {"silu_backward", py_silu_backward, METH_VARARGS,
     "silu_backward(x, saved, grad, out): out = grad s (1 + x (1 - s))."},
    {"norm_forward", py_norm_forward, METH_VARARGS,
     "norm_forward(x, weight, bias, out, mean, rstd, n, eps, rms): layer norm (or RMS norm) of rows of n."},
    {"norm_backward", py_norm_backward, METH_VARARGS,
     "norm_backward(x, grad, weight, mean, rstd, dx, dweight, dbias, n, rms): dx written, dweight and "
     "dbias added to."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_kernels",
    .m_doc = "ember-backend-native's compiled float32 kernels (see _kernels.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
