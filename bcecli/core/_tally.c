/* Fused loops for the binary fast path (bcecli/core/binary_scoring.py).
 *
 * numpy needs one pass over a chunk for each statistic, and a bincount costs two more (it
 * checks its input's range first): about 12 ns a row for what these two loops do in 3. The
 * losses themselves still come from numpy, so every loss value, and so the mean, is the same
 * with or without this module. Built where a C compiler is at hand (setup.py marks it
 * optional); bcecli/core/native.py falls back to numpy without it.
 *
 * Inputs are C-contiguous float64 buffers; the GIL is released while the loops run.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define CAL_BINS 10
#define LANES 4 /* separate counters, so a run of rows in one bin does not wait on itself */

/* The loss sketch's buckets (bcecli/core/sketch.py): a float64's bits shifted right by
 * SHIFT, less OFFSET; below 0 is the low bucket, at or past N_BUCKETS the high one. */
#define SUB_BITS 10
#define E_MIN (-64)
#define E_MAX 16
#define N_BUCKETS ((int64_t)(E_MAX - E_MIN) << SUB_BITS)
#define OFFSET ((int64_t)(E_MIN + 1023) << SUB_BITS)
#define SHIFT (52 - SUB_BITS)

static int get_buffer(PyObject *obj, Py_buffer *view, const char *name, int writable,
                      int integer) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    int ok = view->itemsize == 8 && f[1] == '\0' &&
             (integer ? (f[0] == 'q' || f[0] == 'l') : f[0] == 'd');
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s: expected a contiguous %s array", name,
                     integer ? "int64" : "float64");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* inspect(y, x, q=None) -> (x_min, x_max, n_pos, n_neg)
 * The range of the predictions (NaN for both if one is NaN, as numpy's min and max give) and
 * how many labels are exactly 1 and exactly 0. With q, also writes q = |x - (1 - y)|, the
 * probability given to the true class where y is 0 or 1, as bcecli.core.binary's
 * true_class_probability computes it (the same operations, so the same bits). */
static PyObject *inspect(PyObject *self, PyObject *args) {
    PyObject *oy, *ox, *oq = Py_None;
    Py_buffer y, x, q = {0};
    if (!PyArg_ParseTuple(args, "OO|O", &oy, &ox, &oq))
        return NULL;
    if (get_buffer(oy, &y, "y", 0, 0) < 0)
        return NULL;
    if (get_buffer(ox, &x, "x", 0, 0) < 0) {
        PyBuffer_Release(&y);
        return NULL;
    }
    int with_q = oq != Py_None;
    if (with_q && get_buffer(oq, &q, "q", 1, 0) < 0) {
        PyBuffer_Release(&y);
        PyBuffer_Release(&x);
        return NULL;
    }
    const char *bad = y.len != x.len ? "y and x differ in length"
                      : with_q && q.len != x.len ? "q and x differ in length"
                                                 : NULL;
    const double *yv = y.buf, *xv = x.buf;
    double *qv = with_q ? q.buf : NULL;
    Py_ssize_t n = bad ? 0 : x.len / 8;
    double lo = INFINITY, hi = -INFINITY;
    int64_t pos = 0, neg = 0, nan = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        double p = xv[i], t = yv[i];
        lo = p < lo ? p : lo;
        hi = p > hi ? p : hi;
        nan += p != p;
        pos += t == 1.0;
        neg += t == 0.0;
    }
    if (qv)
        for (Py_ssize_t i = 0; i < n; i++)
            qv[i] = fabs(xv[i] - (1.0 - yv[i]));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&y);
    PyBuffer_Release(&x);
    if (with_q)
        PyBuffer_Release(&q);
    if (bad)
        return PyErr_Format(PyExc_ValueError, "%s", bad);
    if (nan)
        lo = hi = NAN;
    return Py_BuildValue("ddLL", lo, hi, (long long)pos, (long long)neg);
}

/* tally(y, p, loss, sketch, cal_n, cal_p) -> (brier_sum, n_half, n_half_pos, n_inf,
 *                                              loss_min, loss_max)
 * For labels y (each 0 or 1), probabilities p in [0, 1] and their losses (never NaN):
 *   cal_n[2 * bin + label] += rows, cal_p[2 * bin + label] += p, bin = floor(10 p) (9 for 1),
 *   sums added in row order, as np.bincount adds them;
 *   sketch[bucket + 1] += 1 for each finite loss (an infinite one is counted in n_inf);
 * and returns the sum of (p - y)^2, how many p are exactly 0.5 (and of those, how many have
 * label 1), and the losses' range. */
static PyObject *tally(PyObject *self, PyObject *args) {
    PyObject *obj[6];
    Py_buffer b[6];
    static const char *names[6] = {"y", "p", "loss", "sketch", "cal_n", "cal_p"};
    static const int writable[6] = {0, 0, 0, 1, 1, 1}, integer[6] = {0, 0, 0, 1, 1, 0};
    if (!PyArg_ParseTuple(args, "OOOOOO", &obj[0], &obj[1], &obj[2], &obj[3], &obj[4], &obj[5]))
        return NULL;
    int got = 0;
    for (; got < 6; got++)
        if (get_buffer(obj[got], &b[got], names[got], writable[got], integer[got]) < 0)
            break;
    const char *bad = NULL;
    if (got == 6) {
        if (b[0].len != b[2].len || b[1].len != b[2].len)
            bad = "y, p and loss differ in length";
        else if (b[3].len != (N_BUCKETS + 2) * 8)
            bad = "sketch: wrong number of buckets";
        else if (b[4].len != 2 * CAL_BINS * 8 || b[5].len != 2 * CAL_BINS * 8)
            bad = "cal_n and cal_p need 2 x 10 bins";
    }
    if (got < 6 || bad) {
        for (int i = 0; i < got; i++)
            PyBuffer_Release(&b[i]);
        return bad ? PyErr_Format(PyExc_ValueError, "%s", bad) : NULL;
    }
    const double *y = b[0].buf, *p = b[1].buf, *loss = b[2].buf;
    int64_t *sketch = b[3].buf, *cal_n = b[4].buf;
    double *cal_p = b[5].buf;
    Py_ssize_t n = b[2].len / 8;
    int64_t counts[LANES][2 * CAL_BINS];
    double brier[LANES] = {0.0};
    int64_t half = 0, half_pos = 0, n_inf = 0;
    double lo = INFINITY, hi = -INFINITY;
    memset(counts, 0, sizeof counts);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        double pi = p[i], yi = y[i], li = loss[i];
        int64_t bin = (int64_t)(pi * CAL_BINS); /* truncation, as numpy's unsafe cast */
        bin = bin < CAL_BINS - 1 ? bin : CAL_BINS - 1;
        bin = bin > 0 ? bin : 0;
        int64_t key = 2 * bin + (yi == 1.0);
        counts[i % LANES][key]++;
        cal_p[key] += pi;
        double d = pi - yi;
        brier[i % LANES] += d * d;
        half += pi == 0.5;
        half_pos += (pi == 0.5) & (yi == 1.0);
        lo = li < lo ? li : lo;
        hi = li > hi ? li : hi;
        if (!(li < INFINITY)) { /* +inf (or a NaN the caller let through) */
            n_inf++;
            continue;
        }
        int64_t bits;
        memcpy(&bits, &li, sizeof bits);
        int64_t bucket = (bits >> SHIFT) - OFFSET; /* negative bits (a sign) land below 0 */
        bucket = bucket < -1 ? -1 : (bucket > N_BUCKETS ? N_BUCKETS : bucket);
        sketch[bucket + 1]++;
    }
    for (int k = 0; k < 2 * CAL_BINS; k++)
        for (int j = 0; j < LANES; j++)
            cal_n[k] += counts[j][k];
    Py_END_ALLOW_THREADS
    for (int i = 0; i < 6; i++)
        PyBuffer_Release(&b[i]);
    double brier_sum = (brier[0] + brier[1]) + (brier[2] + brier[3]);
    return Py_BuildValue("dLLLdd", brier_sum, (long long)half, (long long)half_pos,
                         (long long)n_inf, lo, hi);
}

static PyMethodDef methods[] = {
    {"inspect", inspect, METH_VARARGS, "Range of x, and the counts of labels 1 and 0."},
    {"tally", tally, METH_VARARGS, "Calibration, sketch, Brier and range tallies of a chunk."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tally", NULL, -1, methods};

PyMODINIT_FUNC PyInit__tally(void) { return PyModule_Create(&module); }
