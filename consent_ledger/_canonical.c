/* The two hot checks of consent_ledger.encoding, compiled.
 *
 * plain(value): is a Python value inside the JCS-safe subset that entries may carry?
 * entry_link(raw): are these bytes exactly a canonical entry, and if so its index and
 * prev_hash?
 * linked_run(raws, hashes, first_index, prev): entry_link and the chain comparison over a
 * run of entries, for the verifier.
 *
 * All must give exactly the answers of the pure-Python reference in encoding.py
 * (_plain_reference, _link_reference, _linked_run_reference); tests/consent_ledger/test_canonical.py checks that
 * with generated and mutated inputs. They exist because these checks run once per appended
 * and once per verified entry, and the interpreted versions cost more than the SHA-256
 * hashing around them.
 *
 * The byte grammar accepted by entry_link is what orjson.dumps(..., OPT_SORT_KEYS) emits
 * for values of the subset (itself equal to RFC 8785 there):
 *   - no white space outside strings;
 *   - object keys are ASCII, sorted by code point, no duplicates;
 *   - numbers are integers -?(0|[1-9][0-9]*) within +-(2**53 - 1), never -0;
 *   - strings are UTF-8 (strict: no overlongs, no surrogates), with '"' and '\' escaped,
 *     U+0008/9/A/C/D as \b \t \n \f \r, other controls as \u00xx (lower-case hex), and
 *     nothing else escaped;
 *   - containers nest at most MAX_DEPTH deep inside the body;
 *   - the top level is exactly
 *     {"body":{...},"index":N,"prev_hash":"<64 lower-case hex>","subject":S|null,
 *      "timestamp":S,"type":S,"v":1}
 * Every read is bounds-checked: the bytes come from a database the verifier does not trust.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_DEPTH 32
#define MAX_SAFE 9007199254740991LL /* 2**53 - 1 */

typedef const unsigned char *ptr;

/* -- plain ------------------------------------------------------------------------------ */

/* 1: inside the subset, 0: outside, -1: a Python error is set. */
static int
plain(PyObject *value, int depth)
{
    PyTypeObject *t = Py_TYPE(value);
    if (t == &PyUnicode_Type || value == Py_None || t == &PyBool_Type) {
        return 1;
    }
    if (t == &PyLong_Type) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (x == -1 && PyErr_Occurred()) {
            return -1;
        }
        return !overflow && x >= -MAX_SAFE && x <= MAX_SAFE;
    }
    if (t == &PyDict_Type) {
        if (depth > MAX_DEPTH) {
            return 0;
        }
        PyObject *key, *item;
        Py_ssize_t pos = 0;
        while (PyDict_Next(value, &pos, &key, &item)) {
            /* str subclasses as keys are fine: they encode as the strings they are. */
            if (!PyUnicode_Check(key)) {
                return 0;
            }
            if (PyUnicode_READY(key) < 0) {
                return -1;
            }
            if (!PyUnicode_IS_ASCII(key)) {
                return 0;
            }
            int ok = plain(item, depth + 1);
            if (ok != 1) {
                return ok;
            }
        }
        return 1;
    }
    if (t == &PyList_Type || t == &PyTuple_Type) {
        if (depth > MAX_DEPTH) {
            return 0;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(value);
        PyObject **items = PySequence_Fast_ITEMS(value);
        for (Py_ssize_t i = 0; i < n; i++) {
            int ok = plain(items[i], depth + 1);
            if (ok != 1) {
                return ok;
            }
        }
        return 1;
    }
    return 0;
}

static PyObject *
py_plain(PyObject *module, PyObject *value)
{
    (void)module;
    int ok = plain(value, 1);
    if (ok < 0) {
        return NULL;
    }
    return PyBool_FromLong(ok);
}

/* -- canonical bytes ---------------------------------------------------------------------- */

typedef struct {
    ptr p;
    ptr end;
} cursor;

static int
take(cursor *c, const char *literal, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, literal, n) != 0) {
        return 0;
    }
    c->p += n;
    return 1;
}

#define TAKE(c, lit) take((c), (lit), sizeof(lit) - 1)

static int
is_lower_hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

static int
hex_value(unsigned char ch)
{
    return ch <= '9' ? ch - '0' : ch - 'a' + 10;
}

/* One UTF-8 sequence starting at p (first byte >= 0x80); its length, or 0 if invalid. */
static int
utf8_length(ptr p, ptr end)
{
    unsigned char b0 = p[0];
    Py_ssize_t left = end - p;
    unsigned char lo = 0x80, hi = 0xBF;
    int n;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
    }
    else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        if (b0 == 0xE0) {
            lo = 0xA0; /* no overlongs */
        }
        else if (b0 == 0xED) {
            hi = 0x9F; /* no surrogates */
        }
    }
    else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        if (b0 == 0xF0) {
            lo = 0x90;
        }
        else if (b0 == 0xF4) {
            hi = 0x8F; /* nothing past U+10FFFF */
        }
    }
    else {
        return 0;
    }
    if (left < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (int i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

/* A canonical string at c->p (its opening quote). Sets *ascii when every decoded character
 * is ASCII (escaped controls are). */
static int
string(cursor *c, int *ascii)
{
    ptr p = c->p, end = c->end;
    if (p >= end || *p != '"') {
        return 0;
    }
    p++;
    int only_ascii = 1;
    while (p < end) {
        unsigned char ch = *p;
        if (ch == '"') {
            c->p = p + 1;
            if (ascii != NULL) {
                *ascii = only_ascii;
            }
            return 1;
        }
        if (ch == '\\') {
            if (end - p < 2) {
                return 0;
            }
            unsigned char e = p[1];
            if (e == '"' || e == '\\' || e == 'b' || e == 't' || e == 'n' || e == 'f' ||
                e == 'r') {
                p += 2;
                continue;
            }
            if (e != 'u' || end - p < 6 || p[2] != '0' || p[3] != '0' ||
                (p[4] != '0' && p[4] != '1') || !is_lower_hex(p[5])) {
                return 0;
            }
            int code = (p[4] - '0') * 16 + hex_value(p[5]);
            if (code == 0x08 || code == 0x09 || code == 0x0A || code == 0x0C || code == 0x0D) {
                return 0; /* these have short escapes */
            }
            p += 6;
            continue;
        }
        if (ch < 0x20) {
            return 0;
        }
        if (ch < 0x80) {
            p++;
            continue;
        }
        int n = utf8_length(p, end);
        if (n == 0) {
            return 0;
        }
        only_ascii = 0;
        p += n;
    }
    return 0;
}

/* The next decoded character of a canonical ASCII key (between its quotes). */
static unsigned char
key_char(ptr *p)
{
    ptr q = *p;
    if (q[0] != '\\') {
        *p = q + 1;
        return q[0];
    }
    switch (q[1]) {
    case 'b':
        *p = q + 2;
        return 0x08;
    case 't':
        *p = q + 2;
        return 0x09;
    case 'n':
        *p = q + 2;
        return 0x0A;
    case 'f':
        *p = q + 2;
        return 0x0C;
    case 'r':
        *p = q + 2;
        return 0x0D;
    case 'u':
        *p = q + 6;
        return (unsigned char)((q[4] - '0') * 16 + hex_value(q[5]));
    default: /* '"' or '\\' */
        *p = q + 2;
        return q[1];
    }
}

/* Is key b (raw bytes between its quotes) strictly after key a, comparing decoded text? */
static int
key_after(ptr a, ptr a_end, ptr b, ptr b_end)
{
    while (a < a_end && b < b_end) {
        unsigned char x = key_char(&a), y = key_char(&b);
        if (x != y) {
            return y > x;
        }
    }
    return a >= a_end && b < b_end;
}

static int
integer(cursor *c, long long *out)
{
    ptr p = c->p, end = c->end;
    int negative = 0;
    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9') {
        return 0;
    }
    long long value = 0;
    if (*p == '0') {
        if (negative) {
            return 0; /* -0 */
        }
        p++;
    }
    else {
        while (p < end && *p >= '0' && *p <= '9') {
            value = value * 10 + (*p - '0');
            if (value > MAX_SAFE) {
                return 0;
            }
            p++;
        }
    }
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))) {
        return 0; /* fractions, exponents and leading zeros are not canonical integers */
    }
    c->p = p;
    if (out != NULL) {
        *out = negative ? -value : value;
    }
    return 1;
}

static int value(cursor *c, int depth);

static int
object(cursor *c, int depth)
{
    if (depth > MAX_DEPTH || !TAKE(c, "{")) {
        return 0;
    }
    if (TAKE(c, "}")) {
        return 1;
    }
    ptr last = NULL, last_end = NULL;
    for (;;) {
        ptr at = c->p;
        int ascii = 0;
        if (!string(c, &ascii) || !ascii) {
            return 0;
        }
        ptr key = at + 1, key_end = c->p - 1; /* between the quotes */
        if (last != NULL && !key_after(last, last_end, key, key_end)) {
            return 0;
        }
        last = key;
        last_end = key_end;
        if (!TAKE(c, ":") || !value(c, depth + 1)) {
            return 0;
        }
        if (TAKE(c, "}")) {
            return 1;
        }
        if (!TAKE(c, ",")) {
            return 0;
        }
    }
}

static int
array(cursor *c, int depth)
{
    if (depth > MAX_DEPTH || !TAKE(c, "[")) {
        return 0;
    }
    if (TAKE(c, "]")) {
        return 1;
    }
    for (;;) {
        if (!value(c, depth + 1)) {
            return 0;
        }
        if (TAKE(c, "]")) {
            return 1;
        }
        if (!TAKE(c, ",")) {
            return 0;
        }
    }
}

static int
value(cursor *c, int depth)
{
    if (c->p >= c->end) {
        return 0;
    }
    switch (*c->p) {
    case '{':
        return object(c, depth);
    case '[':
        return array(c, depth);
    case '"':
        return string(c, NULL);
    case 't':
        return TAKE(c, "true");
    case 'f':
        return TAKE(c, "false");
    case 'n':
        return TAKE(c, "null");
    default:
        return integer(c, NULL);
    }
}

/* Exactly a canonical entry? Then 1, with its index and prev_hash. */
static int
parse_entry(ptr start, ptr end, long long *index, unsigned char prev[32])
{
    cursor c = {start, end};
    if (!TAKE(&c, "{\"body\":") || !object(&c, 1) || !TAKE(&c, ",\"index\":") ||
        (c.p < c.end && *c.p == '-') || !integer(&c, index) || !TAKE(&c, ",\"prev_hash\":\"")) {
        return 0;
    }
    if (c.end - c.p < 65 || c.p[64] != '"') {
        return 0;
    }
    for (int i = 0; i < 32; i++) {
        unsigned char hi = c.p[2 * i], lo = c.p[2 * i + 1];
        if (!is_lower_hex(hi) || !is_lower_hex(lo)) {
            return 0;
        }
        prev[i] = (unsigned char)(hex_value(hi) * 16 + hex_value(lo));
    }
    c.p += 65;
    return TAKE(&c, ",\"subject\":") && (TAKE(&c, "null") || string(&c, NULL)) &&
           TAKE(&c, ",\"timestamp\":") && string(&c, NULL) && TAKE(&c, ",\"type\":") &&
           string(&c, NULL) && TAKE(&c, ",\"v\":1}") && c.p == c.end;
}

static PyObject *
py_entry_link(PyObject *module, PyObject *arg)
{
    (void)module;
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "entry_link() takes bytes");
        return NULL;
    }
    long long index = 0;
    unsigned char prev[32];
    ptr start = (ptr)PyBytes_AS_STRING(arg);
    if (!parse_entry(start, start + PyBytes_GET_SIZE(arg), &index, prev)) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(Ly#)", index, (const char *)prev, (Py_ssize_t)32);
}

/* linked_run(raws, hashes, first_index, prev): how many leading entries of ``raws`` are
 * canonical entries numbered first_index, first_index + 1, ..., the first recording
 * ``prev`` as its prev_hash and each later one ``hashes[i - 1]``. The verifier's inner loop,
 * run over a whole fetch of rows without building a Python object per entry. */
static PyObject *
py_linked_run(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4 || !PyList_CheckExact(args[0]) || !PyList_CheckExact(args[1]) ||
        !PyLong_CheckExact(args[2]) || !PyBytes_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "linked_run() takes (list of bytes, list of bytes, int, bytes)");
        return NULL;
    }
    PyObject *raws = args[0], *hashes = args[1];
    long long first = PyLong_AsLongLong(args[2]);
    if (first == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(raws);
    if (PyList_GET_SIZE(hashes) < n - 1) {
        PyErr_SetString(PyExc_ValueError, "linked_run() needs a hash for every entry but the last");
        return NULL;
    }
    PyObject *expected = args[3];
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        PyObject *raw = PyList_GET_ITEM(raws, i);
        long long index = 0;
        unsigned char prev[32];
        if (!PyBytes_Check(raw) ||
            !parse_entry((ptr)PyBytes_AS_STRING(raw),
                         (ptr)PyBytes_AS_STRING(raw) + PyBytes_GET_SIZE(raw), &index, prev) ||
            index != first + i || PyBytes_GET_SIZE(expected) != 32 ||
            memcmp(prev, PyBytes_AS_STRING(expected), 32) != 0) {
            break;
        }
        if (i + 1 < n) {
            expected = PyList_GET_ITEM(hashes, i);
            if (!PyBytes_Check(expected)) {
                PyErr_SetString(PyExc_TypeError, "linked_run() hashes must be bytes");
                return NULL;
            }
        }
    }
    return PyLong_FromSsize_t(i);
}

static PyMethodDef methods[] = {
    {"plain", py_plain, METH_O,
     "plain(value) -> bool: is value inside the JCS-safe subset entries may carry?"},
    {"entry_link", py_entry_link, METH_O,
     "entry_link(raw) -> (index, prev_hash) | None: the link of exactly canonical entry "
     "bytes, or None for any other bytes."},
    {"linked_run", (PyCFunction)(void (*)(void))py_linked_run, METH_FASTCALL,
     "linked_run(raws, hashes, first_index, prev) -> int: how many leading entries are "
     "canonical, numbered from first_index and chained to prev, then to hashes[i - 1]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "consent_ledger._canonical",
    "Compiled canonical-form checks (see consent_ledger.encoding).",
    0,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__canonical(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "MAX_DEPTH", MAX_DEPTH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
