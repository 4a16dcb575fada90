// The fake CUDA driver (plus fake cuBLAS and NVRTC) the tests compile into a shared library
// and load through the same loader as the real libcuda.so.1. Kept as text here because a
// Swift test target cannot hold C sources.
//
// Timing is a deterministic virtual clock: each stream has a tail; an operation starts at the
// latest of its stream's tail, its resource's tail (SMs, H2D engine, D2H engine, D2D) and the
// host clock (advanced by synchronisation), and lasts a duration computed from the operation:
// - copies: latency + bytes / bandwidth (per direction, pinned or pageable; D2D one rate);
// - kernels: 2 µs + waves × per-wave time, waves = ⌈grid / (SMs of the stream's context × CTAs per SM)⌉;
// - cuBLAS GEMM: 3 µs + 2·m·n·k / 1 TFLOP/s × (16 / SMs).
// Kernels on two streams share one SM resource, so co-running kernels run back to back.
// GPUSIM_FAKE_FAIL=<exported name> makes that entry point return CUDA_ERROR_OUT_OF_MEMORY.

/// The fake's constants, mirrored for the tests' independent predictions.
enum Fake {
    static let sms = 16
    static let h2dPinned = (latency: 5e-6, bandwidth: 10e9)
    static let d2hPinned = (latency: 4e-6, bandwidth: 8e9)
    static let h2dPageable = (latency: 10e-6, bandwidth: 4e9)
    static let d2hPageable = (latency: 12e-6, bandwidth: 3e9)
    static let d2d = (latency: 3e-6, bandwidth: 100e9)
    static let kernelOverhead = 2e-6
    /// Compute kernel: seconds per FMA-loop iteration per tile round.
    static let fmaIteration = 1e-9
    /// Memory kernel: seconds per tile round.
    static let copyTile = 1e-6
    /// Naive GEMM: seconds per unit of k per wave.
    static let gemmK = 1e-9
    static let cublasOverhead = 3e-6
    static let cublasFlops = 1e12
    static let sharedPerSM = 102400
    static let maxThreadsPerSM = 2048
    static let maxCTAsPerSM = 32
    static let totalMemory = 16 << 30

    static func ctasPerSM(threads: Int, shared: Int = 0) -> Int {
        var n = min(maxCTAsPerSM, maxThreadsPerSM / threads)
        if shared > 0 { n = min(n, sharedPerSM / shared) }
        return max(n, 0)
    }

    static func waves(_ ctas: Int, _ perSM: Int, _ sms: Int) -> Int { (ctas + perSM * sms - 1) / (perSM * sms) }

    static let cSource = #"""
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
#define EXPORT __attribute__((visibility("default")))
#define FAKE_SMS 16
#define SHARED_PER_SM 102400

static const double H2D_PINNED_LAT = 5e-6, H2D_PINNED_BW = 10e9;
static const double D2H_PINNED_LAT = 4e-6, D2H_PINNED_BW = 8e9;
static const double H2D_PAGE_LAT = 10e-6, H2D_PAGE_BW = 4e9;
static const double D2H_PAGE_LAT = 12e-6, D2H_PAGE_BW = 3e9;
static const double D2D_LAT = 3e-6, D2D_BW = 100e9;
static const double KERNEL_OVERHEAD = 2e-6, FMA_ITER = 1e-9, COPY_TILE = 1e-6, GEMM_K = 1e-9;
static const double CUBLAS_OVERHEAD = 3e-6, CUBLAS_FLOPS = 1e12;

struct fake_ctx { int sms; };
struct fake_stream { double tail; int sms; };
struct fake_event { double t; };
struct fake_module { char *image; };
struct fake_func { int kind; int max_dyn; };
struct fake_green { struct fake_ctx ctx; };
struct fake_desc { int sms; };
typedef struct { int type; unsigned char pad[92]; union { struct { unsigned int smCount; } sm; unsigned char over[48]; } u; } __attribute__((aligned(8))) fake_resource;

static int initialized;
static double host_now, sm_tail, h2d_tail, d2h_tail, d2d_tail;
static struct fake_ctx device_ctx = {FAKE_SMS};
static struct fake_ctx *current;
static unsigned long long next_addr = 0x100000000ULL;
static struct { void *p; size_t n; } pinned[64];

static int failing(const char *name) {
    const char *f = getenv("GPUSIM_FAKE_FAIL");
    return f && strcmp(f, name) == 0;
}
#define ENTER(name) do { if (failing(name)) return 2; } while (0)
#define NEED_INIT do { if (!initialized) return 3; } while (0)

static double dmax(double a, double b) { return a > b ? a : b; }
static double run_on(struct fake_stream *s, double *resource, double duration) {
    double start = dmax(dmax(s->tail, *resource), host_now);
    s->tail = start + duration;
    *resource = s->tail;
    return s->tail;
}
static int is_pinned(const void *p) {
    for (int i = 0; i < 64; i++)
        if (pinned[i].p && (const char *)p >= (const char *)pinned[i].p &&
            (const char *)p < (const char *)pinned[i].p + pinned[i].n) return 1;
    return 0;
}
static int stream_sms(struct fake_stream *s) { return s ? s->sms : (current ? current->sms : FAKE_SMS); }
static struct fake_stream null_stream;
static struct fake_stream *S(void *s) { if (!s) { null_stream.sms = stream_sms(NULL); return &null_stream; } return s; }

EXPORT CUresult cuInit(unsigned int flags) { ENTER("cuInit"); (void)flags; initialized = 1; return 0; }
EXPORT CUresult cuDriverGetVersion(int *v) { ENTER("cuDriverGetVersion"); *v = 12040; return 0; }
EXPORT CUresult cuGetErrorName(CUresult e, const char **s) {
    switch (e) {
    case 0: *s = "CUDA_SUCCESS"; return 0;
    case 1: *s = "CUDA_ERROR_INVALID_VALUE"; return 0;
    case 2: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return 0;
    case 3: *s = "CUDA_ERROR_NOT_INITIALIZED"; return 0;
    case 200: *s = "CUDA_ERROR_INVALID_IMAGE"; return 0;
    case 500: *s = "CUDA_ERROR_NOT_FOUND"; return 0;
    case 801: *s = "CUDA_ERROR_NOT_SUPPORTED"; return 0;
    default: *s = NULL; return 1;
    }
}
EXPORT CUresult cuGetErrorString(CUresult e, const char **s) {
    *s = e == 2 ? "out of memory (fake)" : e == 0 ? "no error" : "fake error";
    return 0;
}
EXPORT CUresult cuDeviceGetCount(int *n) { ENTER("cuDeviceGetCount"); NEED_INIT; *n = 1; return 0; }
EXPORT CUresult cuDeviceGet(int *d, int ordinal) { ENTER("cuDeviceGet"); NEED_INIT; if (ordinal != 0) return 101; *d = 0; return 0; }
EXPORT CUresult cuDeviceGetName(char *name, int len, int dev) { ENTER("cuDeviceGetName"); (void)dev; snprintf(name, len, "Fake GPU FG-16"); return 0; }
EXPORT CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
    ENTER("cuDeviceGetAttribute"); NEED_INIT; (void)dev;
    switch (attr) {
    case 1: *v = 1024; break;
    case 8: *v = 49152; break;
    case 13: *v = 1500000; break;
    case 16: *v = FAKE_SMS; break;
    case 33: *v = 0x1b; break;
    case 34: *v = 0; break;
    case 36: *v = 2600000; break;
    case 37: *v = 5120; break;
    case 38: *v = 50 << 20; break;
    case 39: *v = 2048; break;
    case 40: *v = 3; break;
    case 50: *v = 0; break;
    case 75: *v = 9; break;
    case 76: *v = 0; break;
    case 81: *v = SHARED_PER_SM; break;
    case 82: *v = 65536; break;
    case 97: *v = SHARED_PER_SM - 1024; break;
    case 106: *v = 32; break;
    default: return 1;
    }
    return 0;
}
EXPORT CUresult cuDeviceTotalMem_v2(size_t *b, int dev) { ENTER("cuDeviceTotalMem_v2"); (void)dev; *b = 16ULL << 30; return 0; }
EXPORT CUresult cuCtxCreate_v2(void **ctx, unsigned int flags, int dev) {
    ENTER("cuCtxCreate_v2"); NEED_INIT; (void)flags; (void)dev;
    *ctx = &device_ctx; current = &device_ctx; return 0;
}
EXPORT CUresult cuCtxDestroy_v2(void *ctx) { ENTER("cuCtxDestroy_v2"); if (current == ctx) current = NULL; return 0; }
EXPORT CUresult cuCtxSetCurrent(void *ctx) { ENTER("cuCtxSetCurrent"); current = ctx; return 0; }
EXPORT CUresult cuCtxSynchronize(void) {
    ENTER("cuCtxSynchronize");
    host_now = dmax(host_now, dmax(dmax(sm_tail, h2d_tail), dmax(d2h_tail, d2d_tail)));
    return 0;
}
EXPORT CUresult cuMemAlloc_v2(unsigned long long *p, size_t n) {
    ENTER("cuMemAlloc_v2"); if (!current) return 201;
    *p = next_addr; next_addr += (n + 4095) & ~(size_t)4095; return 0;
}
EXPORT CUresult cuMemFree_v2(unsigned long long p) { ENTER("cuMemFree_v2"); (void)p; return 0; }
EXPORT CUresult cuMemAllocHost_v2(void **p, size_t n) {
    ENTER("cuMemAllocHost_v2");
    for (int i = 0; i < 64; i++) if (!pinned[i].p) {
        pinned[i].p = malloc(n); pinned[i].n = n; *p = pinned[i].p; return *p ? 0 : 2;
    }
    return 2;
}
EXPORT CUresult cuMemFreeHost(void *p) {
    ENTER("cuMemFreeHost");
    for (int i = 0; i < 64; i++) if (pinned[i].p == p) { free(p); pinned[i].p = NULL; return 0; }
    return 1;
}
EXPORT CUresult cuMemsetD8_v2(unsigned long long p, unsigned char v, size_t n) { ENTER("cuMemsetD8_v2"); (void)p; (void)v; (void)n; return 0; }
EXPORT CUresult cuMemcpyHtoDAsync_v2(unsigned long long d, const void *h, size_t n, void *s) {
    ENTER("cuMemcpyHtoDAsync_v2"); (void)d;
    int pin = is_pinned(h);
    run_on(S(s), &h2d_tail, pin ? H2D_PINNED_LAT + n / H2D_PINNED_BW : H2D_PAGE_LAT + n / H2D_PAGE_BW);
    return 0;
}
EXPORT CUresult cuMemcpyDtoHAsync_v2(void *h, unsigned long long d, size_t n, void *s) {
    ENTER("cuMemcpyDtoHAsync_v2"); (void)d;
    int pin = is_pinned(h);
    run_on(S(s), &d2h_tail, pin ? D2H_PINNED_LAT + n / D2H_PINNED_BW : D2H_PAGE_LAT + n / D2H_PAGE_BW);
    return 0;
}
EXPORT CUresult cuMemcpyDtoDAsync_v2(unsigned long long a, unsigned long long b, size_t n, void *s) {
    ENTER("cuMemcpyDtoDAsync_v2"); (void)a; (void)b;
    run_on(S(s), &d2d_tail, D2D_LAT + n / D2D_BW);
    return 0;
}
EXPORT CUresult cuStreamCreate(void **s, unsigned int flags) {
    ENTER("cuStreamCreate"); (void)flags; if (!current) return 201;
    struct fake_stream *st = calloc(1, sizeof *st); st->sms = current->sms; st->tail = host_now; *s = st; return 0;
}
EXPORT CUresult cuStreamDestroy_v2(void *s) { ENTER("cuStreamDestroy_v2"); free(s); return 0; }
EXPORT CUresult cuStreamSynchronize(void *s) { ENTER("cuStreamSynchronize"); host_now = dmax(host_now, S(s)->tail); return 0; }
EXPORT CUresult cuStreamWaitEvent(void *s, void *e, unsigned int f) {
    ENTER("cuStreamWaitEvent"); (void)f;
    S(s)->tail = dmax(S(s)->tail, ((struct fake_event *)e)->t); return 0;
}
EXPORT CUresult cuEventCreate(void **e, unsigned int flags) { ENTER("cuEventCreate"); (void)flags; *e = calloc(1, sizeof(struct fake_event)); return 0; }
EXPORT CUresult cuEventDestroy_v2(void *e) { ENTER("cuEventDestroy_v2"); free(e); return 0; }
EXPORT CUresult cuEventRecord(void *e, void *s) { ENTER("cuEventRecord"); ((struct fake_event *)e)->t = dmax(S(s)->tail, host_now); return 0; }
EXPORT CUresult cuEventSynchronize(void *e) { ENTER("cuEventSynchronize"); host_now = dmax(host_now, ((struct fake_event *)e)->t); return 0; }
EXPORT CUresult cuEventElapsedTime(float *ms, void *a, void *b) {
    ENTER("cuEventElapsedTime");
    *ms = (float)((((struct fake_event *)b)->t - ((struct fake_event *)a)->t) * 1e3); return 0;
}
EXPORT CUresult cuModuleLoadData(void **m, const void *image) {
    ENTER("cuModuleLoadData"); if (!current) return 201;
    if (!strstr(image, ".version") || !strstr(image, ".target")) return 200;
    struct fake_module *mod = calloc(1, sizeof *mod); mod->image = strdup(image); *m = mod; return 0;
}
EXPORT CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned int n, int *opts, void **vals) {
    ENTER("cuModuleLoadDataEx"); (void)n; (void)opts; (void)vals;
    if (!current) return 201;
    if (!strstr(image, ".version") || !strstr(image, ".target")) return 200;
    struct fake_module *mod = calloc(1, sizeof *mod); mod->image = strdup(image); *m = mod; return 0;
}
EXPORT CUresult cuModuleUnload(void *m) { ENTER("cuModuleUnload"); free(((struct fake_module *)m)->image); free(m); return 0; }
EXPORT CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
    ENTER("cuModuleGetFunction");
    char pattern[256]; snprintf(pattern, sizeof pattern, ".entry %s(", name);
    if (!strstr(((struct fake_module *)m)->image, pattern)) return 500;
    struct fake_func *fn = calloc(1, sizeof *fn); fn->max_dyn = 49152;
    fn->kind = !strcmp(name, "gpusim_empty") ? 0 : !strcmp(name, "gpusim_fma") ? 1 : !strcmp(name, "gpusim_copy") ? 2 :
               !strcmp(name, "gpusim_gemm_bf16") ? 3 : -1;
    *f = fn; return 0;
}
EXPORT CUresult cuFuncSetAttribute(void *f, int attr, int v) {
    ENTER("cuFuncSetAttribute"); if (attr == 8) ((struct fake_func *)f)->max_dyn = v; return 0;
}
EXPORT CUresult cuFuncGetAttribute(int *v, int attr, void *f) { ENTER("cuFuncGetAttribute"); (void)f; *v = attr == 4 ? 32 : 0; return 0; }
static int per_sm(int threads, size_t shared) {
    int n = 2048 / threads; if (n > 32) n = 32;
    if (shared > 0 && (int)(SHARED_PER_SM / shared) < n) n = (int)(SHARED_PER_SM / shared);
    return n;
}
EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *n, void *f, int threads, size_t shared) {
    ENTER("cuOccupancyMaxActiveBlocksPerMultiprocessor"); (void)f; *n = per_sm(threads, shared); return 0;
}
static long waves(long ctas, int perSM, int sms) { return (ctas + (long)perSM * sms - 1) / ((long)perSM * sms); }
EXPORT CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                               unsigned shared, void *s, void **params, void **extra) {
    ENTER("cuLaunchKernel"); (void)extra;
    struct fake_func *fn = f;
    unsigned threads = bx * by * bz;
    if (!gx || !gy || !gz || !threads || threads > 1024 || (int)shared > fn->max_dyn) return 1;
    long grid = (long)gx * gy * gz;
    int sms = stream_sms(s);
    int cps = per_sm((int)threads, shared);
    if (cps < 1) return 1;
    double d = KERNEL_OVERHEAD;
    switch (fn->kind) {
    case 0: break;
    case 1: {
        unsigned iters = *(unsigned *)params[1], tiles = *(unsigned *)params[2];
        long per_cta = (tiles + grid - 1) / grid;
        d += waves(grid, cps, sms) * per_cta * iters * FMA_ITER;
        break;
    }
    case 2: {
        unsigned tiles = *(unsigned *)params[2];
        long per_cta = (tiles + grid - 1) / grid;
        d += waves(grid, cps, sms) * per_cta * COPY_TILE;
        break;
    }
    case 3: {
        unsigned k = *(unsigned *)params[5];
        d += waves(grid, cps, sms) * k * GEMM_K;
        break;
    }
    default: return 1;
    }
    run_on(S(s), &sm_tail, d);
    return 0;
}
#ifndef FAKE_NO_GREEN
EXPORT CUresult cuDeviceGetDevResource(int dev, fake_resource *r, int type) {
    ENTER("cuDeviceGetDevResource"); (void)dev;
    if (type != 1) return 1;
    memset(r, 0, sizeof *r); r->type = 1; r->u.sm.smCount = FAKE_SMS; return 0;
}
EXPORT CUresult cuDevSmResourceSplitByCount(fake_resource *result, unsigned *nb, const fake_resource *input,
                                           fake_resource *remaining, unsigned flags, unsigned minCount) {
    ENTER("cuDevSmResourceSplitByCount"); (void)flags;
    unsigned group = minCount < 2 ? 2 : (minCount + 1) / 2 * 2;
    if (group > input->u.sm.smCount) return 1;
    unsigned n = input->u.sm.smCount / group; if (n > *nb) n = *nb;
    for (unsigned i = 0; i < n; i++) { memset(&result[i], 0, sizeof result[i]); result[i].type = 1; result[i].u.sm.smCount = group; }
    if (remaining) { memset(remaining, 0, sizeof *remaining); remaining->type = 1; remaining->u.sm.smCount = input->u.sm.smCount - n * group; }
    *nb = n; return 0;
}
EXPORT CUresult cuDevResourceGenerateDesc(void **desc, fake_resource *r, unsigned n) {
    ENTER("cuDevResourceGenerateDesc");
    struct fake_desc *d = calloc(1, sizeof *d);
    for (unsigned i = 0; i < n; i++) d->sms += r[i].u.sm.smCount;
    *desc = d; return 0;
}
EXPORT CUresult cuGreenCtxCreate(void **g, void *desc, int dev, unsigned flags) {
    ENTER("cuGreenCtxCreate"); (void)dev;
    if (flags != 1) return 1;
    struct fake_green *gc = calloc(1, sizeof *gc); gc->ctx.sms = ((struct fake_desc *)desc)->sms; *g = gc; return 0;
}
EXPORT CUresult cuGreenCtxDestroy(void *g) { ENTER("cuGreenCtxDestroy"); if (current == g) current = NULL; free(g); return 0; }
EXPORT CUresult cuCtxFromGreenCtx(void **ctx, void *g) { ENTER("cuCtxFromGreenCtx"); *ctx = &((struct fake_green *)g)->ctx; return 0; }
EXPORT CUresult cuGreenCtxStreamCreate(void **s, void *g, unsigned flags, int prio) {
    ENTER("cuGreenCtxStreamCreate"); (void)prio;
    if (flags != 1) return 1;
    struct fake_stream *st = calloc(1, sizeof *st); st->sms = ((struct fake_green *)g)->ctx.sms; st->tail = host_now; *s = st; return 0;
}
#endif

/* NVRTC */
EXPORT int nvrtcVersion(int *major, int *minor) { *major = 12; *minor = 4; return 0; }

/* cuBLAS */
struct fake_blas { struct fake_stream *stream; };
EXPORT int cublasCreate_v2(void **h) { if (failing("cublasCreate_v2")) return 3; *h = calloc(1, sizeof(struct fake_blas)); return 0; }
EXPORT int cublasDestroy_v2(void *h) { free(h); return 0; }
EXPORT int cublasSetStream_v2(void *h, void *s) { ((struct fake_blas *)h)->stream = s; return 0; }
EXPORT int cublasGetVersion_v2(void *h, int *v) { (void)h; *v = 120400; return 0; }
EXPORT int cublasSetMathMode(void *h, int m) { (void)h; (void)m; return 0; }
EXPORT int cublasGemmEx(void *h, int ta, int tb, int m, int n, int k, const void *alpha, const void *A, int at, int lda,
                        const void *B, int bt, int ldb, const void *beta, void *C, int ct, int ldc, int compute, int algo) {
    if (failing("cublasGemmEx")) return 13;
    (void)ta; (void)tb; (void)alpha; (void)A; (void)B; (void)beta; (void)C; (void)algo; (void)compute;
    if (at != 14 || bt != 14 || ct != 14 || m < 1 || n < 1 || k < 1) return 7;
    if ((ta == 1 ? lda < k : lda < m) || ldb < k || ldc < m) return 7;
    struct fake_stream *s = S(((struct fake_blas *)h)->stream);
    run_on(s, &sm_tail, CUBLAS_OVERHEAD + 2.0 * m * n * k / CUBLAS_FLOPS * FAKE_SMS / s->sms);
    return 0;
}
"""#
}
