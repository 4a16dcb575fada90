// cuBLAS through dlopen: bf16 GEMMs with fp32 accumulation, as the MoE models run them.

import CUDADriver

final class CUBLAS {
    let api: GPUSimCUBLAS
    let libraryPath: String

    /// Opens cuBLAS (`path`: nil for $GPUSIM_LIBCUBLAS or the usual places; "none" to skip).
    /// Returns nil with the reason when it is not there.
    static func load(path: String?) -> (CUBLAS?, String) {
        if path == "none" { return (nil, "cuBLAS disabled (--libcublas none)") }
        var err = [CChar](repeating: 0, count: 4096)
        let rc = gpusim_cublas_load(path, &err, err.count)
        if rc != GPUSIM_LOAD_OK { return (nil, "cuBLAS not loaded: " + cString(err)) }
        return (CUBLAS(api: gpusim_cublas_api().pointee, libraryPath: String(cString: gpusim_cublas_loaded_path())),
                "cuBLAS: \(String(cString: gpusim_cublas_loaded_path()))")
    }

    private init(api: GPUSimCUBLAS, libraryPath: String) {
        self.api = api
        self.libraryPath = libraryPath
    }

    static func statusName(_ s: Int32) -> String {
        switch s {
        case 0: return "CUBLAS_STATUS_SUCCESS"
        case 1: return "CUBLAS_STATUS_NOT_INITIALIZED"
        case 3: return "CUBLAS_STATUS_ALLOC_FAILED"
        case 7: return "CUBLAS_STATUS_INVALID_VALUE"
        case 8: return "CUBLAS_STATUS_ARCH_MISMATCH"
        case 11: return "CUBLAS_STATUS_MAPPING_ERROR"
        case 13: return "CUBLAS_STATUS_EXECUTION_FAILED"
        case 14: return "CUBLAS_STATUS_INTERNAL_ERROR"
        case 15: return "CUBLAS_STATUS_NOT_SUPPORTED"
        case 16: return "CUBLAS_STATUS_LICENSE_ERROR"
        default: return "cublasStatus \(s)"
        }
    }

    func check(_ name: String, _ s: cublasStatus_t) throws {
        if s != 0 { throw CalibrationError.call(name: name, code: s, codeName: CUBLAS.statusName(s), detail: "") }
    }

    /// A handle in the current context, bound to `stream`.
    func createHandle(stream: CUstream) throws -> cublasHandle_t {
        var h: cublasHandle_t? = nil
        try check("cublasCreate", api.cublasCreate!(&h))
        guard let h else { throw CalibrationError.other("cublasCreate returned no handle") }
        try check("cublasSetStream", api.cublasSetStream!(h, stream))
        return h
    }

    func destroy(_ h: cublasHandle_t) { _ = api.cublasDestroy!(h) }

    func version(_ h: cublasHandle_t) -> Int? {
        guard let f = api.cublasGetVersion else { return nil }
        var v: Int32 = 0
        return f(h, &v) == 0 ? Int(v) : nil
    }

    /// Row-major `C[rows × n] = X[rows × k] · Wᵀ` with `W` stored `[n × k]` (a Linear layer's weight),
    /// bf16 in and out, fp32 accumulation: cuBLAS column-major `C' (n × rows) = Wᵀ' · X'`, i.e. TN.
    func linear(_ h: cublasHandle_t, stream: CUstream, rows: Int, n: Int, k: Int,
                x: CUdeviceptr, w: CUdeviceptr, c: CUdeviceptr) throws {
        try check("cublasSetStream", api.cublasSetStream!(h, stream))
        var alpha: Float = 1
        var beta: Float = 0
        let s = api.cublasGemmEx!(h, Int32(GPUSIM_CUBLAS_OP_T), Int32(GPUSIM_CUBLAS_OP_N),
                                  Int32(n), Int32(rows), Int32(k), &alpha,
                                  UnsafeRawPointer(bitPattern: UInt(w)), Int32(GPUSIM_CUDA_R_16BF), Int32(k),
                                  UnsafeRawPointer(bitPattern: UInt(x)), Int32(GPUSIM_CUDA_R_16BF), Int32(k),
                                  &beta,
                                  UnsafeMutableRawPointer(bitPattern: UInt(c)), Int32(GPUSIM_CUDA_R_16BF), Int32(n),
                                  Int32(GPUSIM_CUBLAS_COMPUTE_32F), Int32(GPUSIM_CUBLAS_GEMM_DEFAULT))
        try check("cublasGemmEx(\(rows)×\(n)×\(k))", s)
    }
}
