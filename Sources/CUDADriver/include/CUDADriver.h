// CUDADriver: the parts of the CUDA driver API, NVRTC and cuBLAS that gpusim-calibrate uses,
// declared here (no cuda.h needed) and resolved at run time with dlopen/dlsym, so that the
// package builds and its tests run on machines without CUDA.
//
// Types and values follow cuda.h / nvrtc.h / cublas_api.h (CUDA 12.x; ABI-stable since).
// Versioned entry points are resolved by their exported names (cuCtxCreate_v2,
// cuMemAlloc_v2, ...), which is what cuda.h's macros map the plain names to.
#ifndef GPUSIM_CUDADRIVER_H
#define GPUSIM_CUDADRIVER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Driver API types

typedef int CUresult;                 // enum cudaError_enum; 0 = CUDA_SUCCESS
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUgreenCtx_st *CUgreenCtx;
typedef struct CUdevResourceDesc_st *CUdevResourceDesc;

enum {
    GPUSIM_CUDA_SUCCESS = 0,
    GPUSIM_CUDA_ERROR_INVALID_VALUE = 1,
    GPUSIM_CUDA_ERROR_OUT_OF_MEMORY = 2,
    GPUSIM_CUDA_ERROR_NOT_INITIALIZED = 3,
    GPUSIM_CUDA_ERROR_NO_DEVICE = 100,
    GPUSIM_CUDA_ERROR_INVALID_DEVICE = 101,
    GPUSIM_CUDA_ERROR_NOT_SUPPORTED = 801,
};

// CUdevice_attribute values used (cuda.h).
enum {
    GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
    GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
    GPUSIM_CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13,                 // kHz
    GPUSIM_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    GPUSIM_CU_DEVICE_ATTRIBUTE_PCI_BUS_ID = 33,
    GPUSIM_CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID = 34,
    GPUSIM_CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36,          // kHz
    GPUSIM_CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37,    // bits
    GPUSIM_CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
    GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR = 39,
    GPUSIM_CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT = 40,
    GPUSIM_CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID = 50,
    GPUSIM_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    GPUSIM_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81,
    GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR = 82,
    GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
    GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR = 106,
};

enum {
    GPUSIM_CU_FUNC_ATTRIBUTE_NUM_REGS = 4,
    GPUSIM_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
};

enum {
    GPUSIM_CU_STREAM_DEFAULT = 0,
    GPUSIM_CU_STREAM_NON_BLOCKING = 1,
    GPUSIM_CU_EVENT_DEFAULT = 0,
    GPUSIM_CU_JIT_ERROR_LOG_BUFFER = 5,
    GPUSIM_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
    GPUSIM_CU_DEV_RESOURCE_TYPE_SM = 1,
    GPUSIM_CU_GREEN_CTX_DEFAULT_STREAM = 1,
};

// CUdevResource (cuda.h, RESOURCE_ABI_VERSION 1): 4 + 92 + 48 = 144 bytes.
typedef struct GPUSimCUdevResource {
    int type;
    unsigned char _internal_padding[92];
    union {
        struct { unsigned int smCount; } sm;
        unsigned char _oversize[48];
    } u;
} __attribute__((aligned(8))) GPUSimCUdevResource;

// MARK: - Driver API entry points (function-pointer types)

typedef CUresult (*PFN_gpusim_cuInit)(unsigned int flags);
typedef CUresult (*PFN_gpusim_cuDriverGetVersion)(int *version);
typedef CUresult (*PFN_gpusim_cuGetErrorName)(CUresult error, const char **name);
typedef CUresult (*PFN_gpusim_cuGetErrorString)(CUresult error, const char **text);
typedef CUresult (*PFN_gpusim_cuDeviceGetCount)(int *count);
typedef CUresult (*PFN_gpusim_cuDeviceGet)(CUdevice *device, int ordinal);
typedef CUresult (*PFN_gpusim_cuDeviceGetName)(char *name, int len, CUdevice dev);
typedef CUresult (*PFN_gpusim_cuDeviceGetAttribute)(int *value, int attrib, CUdevice dev);
typedef CUresult (*PFN_gpusim_cuDeviceTotalMem)(size_t *bytes, CUdevice dev);
typedef CUresult (*PFN_gpusim_cuCtxCreate)(CUcontext *ctx, unsigned int flags, CUdevice dev);
typedef CUresult (*PFN_gpusim_cuCtxDestroy)(CUcontext ctx);
typedef CUresult (*PFN_gpusim_cuCtxSetCurrent)(CUcontext ctx);
typedef CUresult (*PFN_gpusim_cuCtxSynchronize)(void);
typedef CUresult (*PFN_gpusim_cuMemAlloc)(CUdeviceptr *dptr, size_t bytes);
typedef CUresult (*PFN_gpusim_cuMemFree)(CUdeviceptr dptr);
typedef CUresult (*PFN_gpusim_cuMemAllocHost)(void **pp, size_t bytes);
typedef CUresult (*PFN_gpusim_cuMemFreeHost)(void *p);
typedef CUresult (*PFN_gpusim_cuMemsetD8)(CUdeviceptr dst, unsigned char value, size_t n);
typedef CUresult (*PFN_gpusim_cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes, CUstream s);
typedef CUresult (*PFN_gpusim_cuMemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes, CUstream s);
typedef CUresult (*PFN_gpusim_cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s);
typedef CUresult (*PFN_gpusim_cuStreamCreate)(CUstream *s, unsigned int flags);
typedef CUresult (*PFN_gpusim_cuStreamDestroy)(CUstream s);
typedef CUresult (*PFN_gpusim_cuStreamSynchronize)(CUstream s);
typedef CUresult (*PFN_gpusim_cuStreamWaitEvent)(CUstream s, CUevent e, unsigned int flags);
typedef CUresult (*PFN_gpusim_cuEventCreate)(CUevent *e, unsigned int flags);
typedef CUresult (*PFN_gpusim_cuEventDestroy)(CUevent e);
typedef CUresult (*PFN_gpusim_cuEventRecord)(CUevent e, CUstream s);
typedef CUresult (*PFN_gpusim_cuEventSynchronize)(CUevent e);
typedef CUresult (*PFN_gpusim_cuEventElapsedTime)(float *ms, CUevent start, CUevent end);
typedef CUresult (*PFN_gpusim_cuModuleLoadData)(CUmodule *m, const void *image);
typedef CUresult (*PFN_gpusim_cuModuleLoadDataEx)(CUmodule *m, const void *image, unsigned int numOptions,
                                                  int *options, void **optionValues);
typedef CUresult (*PFN_gpusim_cuModuleUnload)(CUmodule m);
typedef CUresult (*PFN_gpusim_cuModuleGetFunction)(CUfunction *f, CUmodule m, const char *name);
typedef CUresult (*PFN_gpusim_cuLaunchKernel)(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                              unsigned int bx, unsigned int by, unsigned int bz,
                                              unsigned int sharedMemBytes, CUstream s,
                                              void **kernelParams, void **extra);
typedef CUresult (*PFN_gpusim_cuFuncSetAttribute)(CUfunction f, int attrib, int value);
typedef CUresult (*PFN_gpusim_cuFuncGetAttribute)(int *value, int attrib, CUfunction f);
typedef CUresult (*PFN_gpusim_cuOccupancyMaxActiveBlocksPerMultiprocessor)(int *blocks, CUfunction f,
                                                                           int blockSize, size_t dynSmem);
// Green contexts (driver 12.4+; optional).
typedef CUresult (*PFN_gpusim_cuDeviceGetDevResource)(CUdevice dev, GPUSimCUdevResource *res, int type);
typedef CUresult (*PFN_gpusim_cuDevSmResourceSplitByCount)(GPUSimCUdevResource *result, unsigned int *nbGroups,
                                                           const GPUSimCUdevResource *input,
                                                           GPUSimCUdevResource *remaining,
                                                           unsigned int useFlags, unsigned int minCount);
typedef CUresult (*PFN_gpusim_cuDevResourceGenerateDesc)(CUdevResourceDesc *desc, GPUSimCUdevResource *resources,
                                                         unsigned int nbResources);
typedef CUresult (*PFN_gpusim_cuGreenCtxCreate)(CUgreenCtx *g, CUdevResourceDesc desc, CUdevice dev,
                                                unsigned int flags);
typedef CUresult (*PFN_gpusim_cuGreenCtxDestroy)(CUgreenCtx g);
typedef CUresult (*PFN_gpusim_cuCtxFromGreenCtx)(CUcontext *ctx, CUgreenCtx g);
typedef CUresult (*PFN_gpusim_cuGreenCtxStreamCreate)(CUstream *s, CUgreenCtx g, unsigned int flags, int priority);

/// The resolved driver API. Required entries are non-NULL after a successful load;
/// optional ones (marked) may be NULL.
typedef struct GPUSimCUDA {
    PFN_gpusim_cuInit cuInit;
    PFN_gpusim_cuDriverGetVersion cuDriverGetVersion;
    PFN_gpusim_cuGetErrorName cuGetErrorName;
    PFN_gpusim_cuGetErrorString cuGetErrorString;
    PFN_gpusim_cuDeviceGetCount cuDeviceGetCount;
    PFN_gpusim_cuDeviceGet cuDeviceGet;
    PFN_gpusim_cuDeviceGetName cuDeviceGetName;
    PFN_gpusim_cuDeviceGetAttribute cuDeviceGetAttribute;
    PFN_gpusim_cuDeviceTotalMem cuDeviceTotalMem;              // cuDeviceTotalMem_v2
    PFN_gpusim_cuCtxCreate cuCtxCreate;                        // cuCtxCreate_v2
    PFN_gpusim_cuCtxDestroy cuCtxDestroy;                      // cuCtxDestroy_v2
    PFN_gpusim_cuCtxSetCurrent cuCtxSetCurrent;
    PFN_gpusim_cuCtxSynchronize cuCtxSynchronize;
    PFN_gpusim_cuMemAlloc cuMemAlloc;                          // cuMemAlloc_v2
    PFN_gpusim_cuMemFree cuMemFree;                            // cuMemFree_v2
    PFN_gpusim_cuMemAllocHost cuMemAllocHost;                  // cuMemAllocHost_v2
    PFN_gpusim_cuMemFreeHost cuMemFreeHost;
    PFN_gpusim_cuMemsetD8 cuMemsetD8;                          // cuMemsetD8_v2
    PFN_gpusim_cuMemcpyHtoDAsync cuMemcpyHtoDAsync;            // cuMemcpyHtoDAsync_v2
    PFN_gpusim_cuMemcpyDtoHAsync cuMemcpyDtoHAsync;            // cuMemcpyDtoHAsync_v2
    PFN_gpusim_cuMemcpyDtoDAsync cuMemcpyDtoDAsync;            // cuMemcpyDtoDAsync_v2
    PFN_gpusim_cuStreamCreate cuStreamCreate;
    PFN_gpusim_cuStreamDestroy cuStreamDestroy;                // cuStreamDestroy_v2
    PFN_gpusim_cuStreamSynchronize cuStreamSynchronize;
    PFN_gpusim_cuStreamWaitEvent cuStreamWaitEvent;
    PFN_gpusim_cuEventCreate cuEventCreate;
    PFN_gpusim_cuEventDestroy cuEventDestroy;                  // cuEventDestroy_v2
    PFN_gpusim_cuEventRecord cuEventRecord;
    PFN_gpusim_cuEventSynchronize cuEventSynchronize;
    PFN_gpusim_cuEventElapsedTime cuEventElapsedTime;          // cuEventElapsedTime_v2 where exported
    PFN_gpusim_cuModuleLoadData cuModuleLoadData;
    PFN_gpusim_cuModuleLoadDataEx cuModuleLoadDataEx;          // optional (JIT error log)
    PFN_gpusim_cuModuleUnload cuModuleUnload;
    PFN_gpusim_cuModuleGetFunction cuModuleGetFunction;
    PFN_gpusim_cuLaunchKernel cuLaunchKernel;
    PFN_gpusim_cuFuncSetAttribute cuFuncSetAttribute;
    PFN_gpusim_cuFuncGetAttribute cuFuncGetAttribute;
    PFN_gpusim_cuOccupancyMaxActiveBlocksPerMultiprocessor cuOccupancyMaxActiveBlocksPerMultiprocessor;
    // Optional: green contexts (driver 12.4+).
    PFN_gpusim_cuDeviceGetDevResource cuDeviceGetDevResource;
    PFN_gpusim_cuDevSmResourceSplitByCount cuDevSmResourceSplitByCount;
    PFN_gpusim_cuDevResourceGenerateDesc cuDevResourceGenerateDesc;
    PFN_gpusim_cuGreenCtxCreate cuGreenCtxCreate;
    PFN_gpusim_cuGreenCtxDestroy cuGreenCtxDestroy;
    PFN_gpusim_cuCtxFromGreenCtx cuCtxFromGreenCtx;
    PFN_gpusim_cuGreenCtxStreamCreate cuGreenCtxStreamCreate;  // optional even among these (12.5+)
} GPUSimCUDA;

/// Outcome of a load.
enum {
    GPUSIM_LOAD_OK = 0,
    GPUSIM_LOAD_NO_LIBRARY = 1,      // dlopen failed for every candidate
    GPUSIM_LOAD_MISSING_SYMBOL = 2,  // the library lacks a required entry point
};

/// Loads the driver library and resolves the entry points into `*gpusim_cuda_api()`.
/// `path_or_null`: a library path or name; NULL means $GPUSIM_LIBCUDA if set, else
/// "libcuda.so.1" then "libcuda.so". On failure, writes one line saying what was tried into `err`.
/// Loading again first unloads what was loaded before.
int gpusim_cuda_load(const char *path_or_null, char *err, size_t errlen);
/// Closes the library and clears every entry point.
void gpusim_cuda_unload(void);
/// The resolved API (all NULL before a load).
const GPUSimCUDA *gpusim_cuda_api(void);
/// The path or name that was opened ("" before a load).
const char *gpusim_cuda_loaded_path(void);
/// 1 if every green-context entry point needed for SM partitions was found.
int gpusim_cuda_has_green_contexts(void);

// MARK: - NVRTC (optional)

typedef int (*PFN_gpusim_nvrtcVersion)(int *major, int *minor);
typedef struct GPUSimNVRTC {
    PFN_gpusim_nvrtcVersion nvrtcVersion;
} GPUSimNVRTC;
/// Loads NVRTC: `path_or_null`, else $GPUSIM_LIBNVRTC, else libnvrtc.so.13/.12/.11.2/libnvrtc.so, else
/// the usual CUDA and pip install folders. Returns GPUSIM_LOAD_OK or GPUSIM_LOAD_NO_LIBRARY.
int gpusim_nvrtc_load(const char *path_or_null, char *err, size_t errlen);
const GPUSimNVRTC *gpusim_nvrtc_api(void);
const char *gpusim_nvrtc_loaded_path(void);

// MARK: - cuBLAS (optional)

typedef struct cublasContext *cublasHandle_t;
typedef int cublasStatus_t;     // 0 = CUBLAS_STATUS_SUCCESS
enum {
    GPUSIM_CUBLAS_OP_N = 0,
    GPUSIM_CUBLAS_OP_T = 1,
    GPUSIM_CUDA_R_32F = 0,
    GPUSIM_CUDA_R_16F = 2,
    GPUSIM_CUDA_R_16BF = 14,
    GPUSIM_CUBLAS_COMPUTE_32F = 68,
    GPUSIM_CUBLAS_GEMM_DEFAULT = -1,
    GPUSIM_CUBLAS_DEFAULT_MATH = 0,
    GPUSIM_CUBLAS_TF32_TENSOR_OP_MATH = 3,
};
typedef cublasStatus_t (*PFN_gpusim_cublasCreate)(cublasHandle_t *handle);
typedef cublasStatus_t (*PFN_gpusim_cublasDestroy)(cublasHandle_t handle);
typedef cublasStatus_t (*PFN_gpusim_cublasSetStream)(cublasHandle_t handle, CUstream stream);
typedef cublasStatus_t (*PFN_gpusim_cublasGetVersion)(cublasHandle_t handle, int *version);
typedef cublasStatus_t (*PFN_gpusim_cublasSetMathMode)(cublasHandle_t handle, int mode);
typedef cublasStatus_t (*PFN_gpusim_cublasGemmEx)(cublasHandle_t handle, int transa, int transb,
                                                 int m, int n, int k, const void *alpha,
                                                 const void *A, int Atype, int lda,
                                                 const void *B, int Btype, int ldb,
                                                 const void *beta, void *C, int Ctype, int ldc,
                                                 int computeType, int algo);
typedef struct GPUSimCUBLAS {
    PFN_gpusim_cublasCreate cublasCreate;          // cublasCreate_v2
    PFN_gpusim_cublasDestroy cublasDestroy;        // cublasDestroy_v2
    PFN_gpusim_cublasSetStream cublasSetStream;    // cublasSetStream_v2
    PFN_gpusim_cublasGetVersion cublasGetVersion;  // cublasGetVersion_v2
    PFN_gpusim_cublasSetMathMode cublasSetMathMode;
    PFN_gpusim_cublasGemmEx cublasGemmEx;
} GPUSimCUBLAS;
/// Loads cuBLAS: `path_or_null`, else $GPUSIM_LIBCUBLAS, else libcublas.so.13/.12/.11/libcublas.so, else
/// the usual CUDA and pip install folders. Returns GPUSIM_LOAD_OK, _NO_LIBRARY or _MISSING_SYMBOL.
int gpusim_cublas_load(const char *path_or_null, char *err, size_t errlen);
void gpusim_cublas_unload(void);
const GPUSimCUBLAS *gpusim_cublas_api(void);
const char *gpusim_cublas_loaded_path(void);

#ifdef __cplusplus
}
#endif
#endif
