// Run-time loading of the CUDA driver, NVRTC and cuBLAS with dlopen/dlsym.
#define _GNU_SOURCE
#include "CUDADriver.h"

#include <dlfcn.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *cuda_handle;
static GPUSimCUDA cuda_api;
static char cuda_path[1024];

static void *nvrtc_handle;
static GPUSimNVRTC nvrtc_api;
static char nvrtc_path[1024];

static void *cublas_handle;
static GPUSimCUBLAS cublas_api;
static char cublas_path[1024];

static void append(char *buf, size_t len, const char *fmt, ...) {
    if (!buf || len == 0) return;
    size_t used = strnlen(buf, len);
    if (used >= len - 1) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static void one_line(char *buf, size_t len) {
    if (!buf) return;
    for (size_t i = 0; i < len && buf[i]; i++)
        if (buf[i] == '\n' || buf[i] == '\r') buf[i] = ' ';
}

/// First symbol found among NULL-terminated `names`.
static void *sym_any(void *h, const char *const *names) {
    for (; *names; names++) {
        void *p = dlsym(h, *names);
        if (p) return p;
    }
    return NULL;
}

/// dlopen each candidate in turn; records what failed in `tried`.
static void *open_first(const char *const *names, size_t n, char *opened, size_t openedlen,
                        char *tried, size_t triedlen) {
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !names[i][0]) continue;
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) {
            snprintf(opened, openedlen, "%s", names[i]);
            return h;
        }
        const char *e = dlerror();
        append(tried, triedlen, "%s%s (%s)", tried[0] ? "; " : "", names[i], e ? e : "not found");
    }
    return NULL;
}

/// Candidates from glob patterns (CUDA toolkit and pip wheel folders), newest names last.
static void *open_glob(const char *const *patterns, char *opened, size_t openedlen) {
    for (; *patterns; patterns++) {
        glob_t g;
        if (glob(*patterns, 0, NULL, &g) == 0) {
            for (size_t i = g.gl_pathc; i > 0; i--) {
                void *h = dlopen(g.gl_pathv[i - 1], RTLD_NOW | RTLD_LOCAL);
                if (h) {
                    snprintf(opened, openedlen, "%s", g.gl_pathv[i - 1]);
                    globfree(&g);
                    return h;
                }
            }
            globfree(&g);
        }
    }
    return NULL;
}

// MARK: - Driver

void gpusim_cuda_unload(void) {
    if (cuda_handle) dlclose(cuda_handle);
    cuda_handle = NULL;
    memset(&cuda_api, 0, sizeof cuda_api);
    cuda_path[0] = 0;
}

const GPUSimCUDA *gpusim_cuda_api(void) { return &cuda_api; }
const char *gpusim_cuda_loaded_path(void) { return cuda_path; }

int gpusim_cuda_has_green_contexts(void) {
    return cuda_api.cuDeviceGetDevResource && cuda_api.cuDevSmResourceSplitByCount &&
           cuda_api.cuDevResourceGenerateDesc && cuda_api.cuGreenCtxCreate && cuda_api.cuGreenCtxDestroy &&
           cuda_api.cuCtxFromGreenCtx;
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

int gpusim_cuda_load(const char *path_or_null, char *err, size_t errlen) {
    gpusim_cuda_unload();
    if (err && errlen) err[0] = 0;
    char tried[2048] = "";
    const char *candidates[3] = {0};
    size_t n = 0;
    const char *env = getenv("GPUSIM_LIBCUDA");
    if (path_or_null && path_or_null[0]) {
        candidates[n++] = path_or_null;
    } else if (env && env[0]) {
        candidates[n++] = env;
    } else {
        candidates[n++] = "libcuda.so.1";
        candidates[n++] = "libcuda.so";
    }
    cuda_handle = open_first(candidates, n, cuda_path, sizeof cuda_path, tried, sizeof tried);
    if (!cuda_handle) {
        snprintf(err, errlen, "no NVIDIA driver: libcuda.so.1 not found (tried %s%s)", tried,
                 (path_or_null && path_or_null[0]) ? "" : (env && env[0]) ? "; set by GPUSIM_LIBCUDA" :
                 "; set GPUSIM_LIBCUDA to the driver library's path if it is installed elsewhere");
        one_line(err, errlen);
        return GPUSIM_LOAD_NO_LIBRARY;
    }
    void *h = cuda_handle;
    char missing[1024] = "";
#define REQ(field, ...) do { \
        cuda_api.field = (__typeof__(cuda_api.field))sym_any(h, NAMES(__VA_ARGS__)); \
        if (!cuda_api.field) append(missing, sizeof missing, "%s%s", missing[0] ? ", " : "", #field); \
    } while (0)
#define OPT(field, ...) cuda_api.field = (__typeof__(cuda_api.field))sym_any(h, NAMES(__VA_ARGS__))
    REQ(cuInit, "cuInit");
    REQ(cuDriverGetVersion, "cuDriverGetVersion");
    REQ(cuGetErrorName, "cuGetErrorName");
    REQ(cuGetErrorString, "cuGetErrorString");
    REQ(cuDeviceGetCount, "cuDeviceGetCount");
    REQ(cuDeviceGet, "cuDeviceGet");
    REQ(cuDeviceGetName, "cuDeviceGetName");
    REQ(cuDeviceGetAttribute, "cuDeviceGetAttribute");
    REQ(cuDeviceTotalMem, "cuDeviceTotalMem_v2");
    REQ(cuCtxCreate, "cuCtxCreate_v2");
    REQ(cuCtxDestroy, "cuCtxDestroy_v2");
    REQ(cuCtxSetCurrent, "cuCtxSetCurrent");
    REQ(cuCtxSynchronize, "cuCtxSynchronize");
    REQ(cuMemAlloc, "cuMemAlloc_v2");
    REQ(cuMemFree, "cuMemFree_v2");
    REQ(cuMemAllocHost, "cuMemAllocHost_v2");
    REQ(cuMemFreeHost, "cuMemFreeHost");
    REQ(cuMemsetD8, "cuMemsetD8_v2");
    REQ(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
    REQ(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
    REQ(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2");
    REQ(cuStreamCreate, "cuStreamCreate");
    REQ(cuStreamDestroy, "cuStreamDestroy_v2");
    REQ(cuStreamSynchronize, "cuStreamSynchronize");
    REQ(cuStreamWaitEvent, "cuStreamWaitEvent");
    REQ(cuEventCreate, "cuEventCreate");
    REQ(cuEventDestroy, "cuEventDestroy_v2");
    REQ(cuEventRecord, "cuEventRecord");
    REQ(cuEventSynchronize, "cuEventSynchronize");
    REQ(cuEventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime");
    REQ(cuModuleLoadData, "cuModuleLoadData");
    OPT(cuModuleLoadDataEx, "cuModuleLoadDataEx");
    REQ(cuModuleUnload, "cuModuleUnload");
    REQ(cuModuleGetFunction, "cuModuleGetFunction");
    REQ(cuLaunchKernel, "cuLaunchKernel");
    REQ(cuFuncSetAttribute, "cuFuncSetAttribute");
    REQ(cuFuncGetAttribute, "cuFuncGetAttribute");
    REQ(cuOccupancyMaxActiveBlocksPerMultiprocessor, "cuOccupancyMaxActiveBlocksPerMultiprocessor");
    OPT(cuDeviceGetDevResource, "cuDeviceGetDevResource");
    OPT(cuDevSmResourceSplitByCount, "cuDevSmResourceSplitByCount");
    OPT(cuDevResourceGenerateDesc, "cuDevResourceGenerateDesc");
    OPT(cuGreenCtxCreate, "cuGreenCtxCreate");
    OPT(cuGreenCtxDestroy, "cuGreenCtxDestroy");
    OPT(cuCtxFromGreenCtx, "cuCtxFromGreenCtx");
    OPT(cuGreenCtxStreamCreate, "cuGreenCtxStreamCreate");
#undef REQ
#undef OPT
    if (missing[0]) {
        snprintf(err, errlen, "%s lacks driver entry points: %s", cuda_path, missing);
        one_line(err, errlen);
        gpusim_cuda_unload();
        return GPUSIM_LOAD_MISSING_SYMBOL;
    }
    return GPUSIM_LOAD_OK;
}

// MARK: - Optional libraries

static const char *const nvrtc_globs[] = {
    "/usr/local/cuda/lib64/libnvrtc.so.*[0-9]",
    "/usr/local/cuda-*/lib64/libnvrtc.so.*[0-9]",
    "/usr/local/lib/python3*/dist-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.*[0-9]",
    "/usr/local/lib/python3*/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.*[0-9]",
    "/usr/lib/python3/dist-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.*[0-9]",
    "/opt/conda/lib/python3*/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.*[0-9]",
    "/opt/conda/lib/libnvrtc.so.*[0-9]",
    NULL,
};

static const char *const cublas_globs[] = {
    "/usr/local/cuda/lib64/libcublas.so.*[0-9]",
    "/usr/local/cuda-*/lib64/libcublas.so.*[0-9]",
    "/usr/lib/x86_64-linux-gnu/libcublas.so.*[0-9]",
    "/usr/local/lib/python3*/dist-packages/nvidia/cublas/lib/libcublas.so.*[0-9]",
    "/usr/local/lib/python3*/site-packages/nvidia/cublas/lib/libcublas.so.*[0-9]",
    "/usr/lib/python3/dist-packages/nvidia/cublas/lib/libcublas.so.*[0-9]",
    "/opt/conda/lib/python3*/site-packages/nvidia/cublas/lib/libcublas.so.*[0-9]",
    "/opt/conda/lib/libcublas.so.*[0-9]",
    NULL,
};

static void *open_optional(const char *path_or_null, const char *envname, const char *const *names, size_t n,
                           const char *const *globs, char *opened, size_t openedlen, char *err, size_t errlen) {
    char tried[2048] = "";
    const char *env = getenv(envname);
    if (path_or_null && path_or_null[0]) return open_first(&path_or_null, 1, opened, openedlen, tried, sizeof tried);
    if (env && env[0]) {
        void *h = open_first(&env, 1, opened, openedlen, tried, sizeof tried);
        if (!h) { snprintf(err, errlen, "%s", tried); one_line(err, errlen); }
        return h;
    }
    void *h = open_first(names, n, opened, openedlen, tried, sizeof tried);
    if (!h) h = open_glob(globs, opened, openedlen);
    if (!h) {
        snprintf(err, errlen, "tried %s and the CUDA toolkit and pip folders", tried);
        one_line(err, errlen);
    }
    return h;
}

const GPUSimNVRTC *gpusim_nvrtc_api(void) { return &nvrtc_api; }
const char *gpusim_nvrtc_loaded_path(void) { return nvrtc_path; }

int gpusim_nvrtc_load(const char *path_or_null, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (nvrtc_handle) dlclose(nvrtc_handle);
    memset(&nvrtc_api, 0, sizeof nvrtc_api);
    nvrtc_path[0] = 0;
    const char *names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"};
    nvrtc_handle = open_optional(path_or_null, "GPUSIM_LIBNVRTC", names, 4, nvrtc_globs,
                                 nvrtc_path, sizeof nvrtc_path, err, errlen);
    if (!nvrtc_handle) return GPUSIM_LOAD_NO_LIBRARY;
    nvrtc_api.nvrtcVersion = (PFN_gpusim_nvrtcVersion)dlsym(nvrtc_handle, "nvrtcVersion");
    if (!nvrtc_api.nvrtcVersion) {
        snprintf(err, errlen, "%s lacks nvrtcVersion", nvrtc_path);
        dlclose(nvrtc_handle);
        nvrtc_handle = NULL;
        nvrtc_path[0] = 0;
        return GPUSIM_LOAD_MISSING_SYMBOL;
    }
    return GPUSIM_LOAD_OK;
}

void gpusim_cublas_unload(void) {
    if (cublas_handle) dlclose(cublas_handle);
    cublas_handle = NULL;
    memset(&cublas_api, 0, sizeof cublas_api);
    cublas_path[0] = 0;
}

const GPUSimCUBLAS *gpusim_cublas_api(void) { return &cublas_api; }
const char *gpusim_cublas_loaded_path(void) { return cublas_path; }

int gpusim_cublas_load(const char *path_or_null, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    gpusim_cublas_unload();
    const char *names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"};
    cublas_handle = open_optional(path_or_null, "GPUSIM_LIBCUBLAS", names, 4, cublas_globs,
                                  cublas_path, sizeof cublas_path, err, errlen);
    if (!cublas_handle) return GPUSIM_LOAD_NO_LIBRARY;
    void *h = cublas_handle;
    cublas_api.cublasCreate = (PFN_gpusim_cublasCreate)sym_any(h, NAMES("cublasCreate_v2"));
    cublas_api.cublasDestroy = (PFN_gpusim_cublasDestroy)sym_any(h, NAMES("cublasDestroy_v2"));
    cublas_api.cublasSetStream = (PFN_gpusim_cublasSetStream)sym_any(h, NAMES("cublasSetStream_v2"));
    cublas_api.cublasGetVersion = (PFN_gpusim_cublasGetVersion)sym_any(h, NAMES("cublasGetVersion_v2"));
    cublas_api.cublasSetMathMode = (PFN_gpusim_cublasSetMathMode)sym_any(h, NAMES("cublasSetMathMode"));
    cublas_api.cublasGemmEx = (PFN_gpusim_cublasGemmEx)sym_any(h, NAMES("cublasGemmEx"));
    if (!cublas_api.cublasCreate || !cublas_api.cublasDestroy || !cublas_api.cublasSetStream ||
        !cublas_api.cublasGemmEx) {
        snprintf(err, errlen, "%s lacks cublasCreate_v2/cublasDestroy_v2/cublasSetStream_v2/cublasGemmEx",
                 cublas_path);
        gpusim_cublas_unload();
        return GPUSIM_LOAD_MISSING_SYMBOL;
    }
    return GPUSIM_LOAD_OK;
}
