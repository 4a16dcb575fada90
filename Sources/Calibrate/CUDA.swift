// Swift wrappers over the dlopen'ed CUDA driver API (CUDADriver): errors that name the call,
// RAII-free handles with explicit destruction (the calibrator runs single-threaded).

import CUDADriver
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why calibration could not run.
public enum CalibrationError: Error, CustomStringConvertible, Equatable {
    /// No driver library could be opened (exit code ``ExitCode/noDriver``).
    case noDriver(String)
    /// The library opened but lacks entry points.
    case driverUnusable(String)
    /// A driver (or cuBLAS) call failed: the call's name, the result code and its name.
    case call(name: String, code: Int32, codeName: String, detail: String)
    /// Anything else (bad options, a kernel that failed to compile, ...).
    case other(String)

    public var description: String {
        switch self {
        case .noDriver(let m): return m
        case .driverUnusable(let m): return "unusable CUDA driver: \(m)"
        case .call(let name, let code, let codeName, let detail):
            return "\(name) failed: \(codeName) (\(code))" + (detail.isEmpty ? "" : ": \(detail)")
        case .other(let m): return m
        }
    }

    /// Exit codes of gpusim-calibrate.
    public enum ExitCode {
        /// No NVIDIA driver on this machine.
        public static let noDriver: Int32 = 3
        /// A CUDA call failed, or the driver library is unusable.
        public static let cudaFailure: Int32 = 4
        /// Any other failure (options, output file).
        public static let other: Int32 = 1
    }

    public var exitCode: Int32 {
        switch self {
        case .noDriver: return ExitCode.noDriver
        case .driverUnusable, .call: return ExitCode.cudaFailure
        case .other: return ExitCode.other
        }
    }
}

/// Monotonic host clock, seconds.
@inline(__always) func hostSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The loaded driver: entry points plus error naming.
public final class CUDA {
    let api: GPUSimCUDA
    /// Path or name of the library that was opened.
    public let libraryPath: String

    /// Opens the driver library (`path` nil: $GPUSIM_LIBCUDA, else libcuda.so.1) and calls cuInit.
    public init(path: String? = nil) throws {
        var err = [CChar](repeating: 0, count: 4096)
        let rc = gpusim_cuda_load(path, &err, err.count)
        let message = cString(err)
        switch Int(rc) {
        case GPUSIM_LOAD_OK: break
        case GPUSIM_LOAD_NO_LIBRARY: throw CalibrationError.noDriver(message)
        default: throw CalibrationError.driverUnusable(message)
        }
        api = gpusim_cuda_api().pointee
        libraryPath = String(cString: gpusim_cuda_loaded_path())
        try check("cuInit", api.cuInit!(0))
    }

    /// The name of a result code, from the driver (cuGetErrorName) when it knows it.
    public func errorName(_ r: CUresult) -> String {
        var p: UnsafePointer<CChar>? = nil
        if api.cuGetErrorName!(r, &p) == 0, let p { return String(cString: p) }
        return "CUresult \(r)"
    }

    func errorString(_ r: CUresult) -> String {
        var p: UnsafePointer<CChar>? = nil
        if api.cuGetErrorString!(r, &p) == 0, let p { return String(cString: p) }
        return ""
    }

    /// Throws ``CalibrationError/call`` naming `name` unless `r` is CUDA_SUCCESS.
    @inline(__always) func check(_ name: String, _ r: CUresult) throws {
        if r != 0 { throw CalibrationError.call(name: name, code: r, codeName: errorName(r), detail: errorString(r)) }
    }

    var hasGreenContexts: Bool { gpusim_cuda_has_green_contexts() != 0 }

    // MARK: Device

    public func driverVersion() throws -> Int {
        var v: Int32 = 0
        try check("cuDriverGetVersion", api.cuDriverGetVersion!(&v))
        return Int(v)
    }

    public func deviceCount() throws -> Int {
        var n: Int32 = 0
        try check("cuDeviceGetCount", api.cuDeviceGetCount!(&n))
        return Int(n)
    }

    public func device(_ ordinal: Int) throws -> CUdevice {
        var d: CUdevice = 0
        try check("cuDeviceGet", api.cuDeviceGet!(&d, Int32(ordinal)))
        return d
    }

    public func name(_ d: CUdevice) throws -> String {
        var buf = [CChar](repeating: 0, count: 256)
        try check("cuDeviceGetName", api.cuDeviceGetName!(&buf, Int32(buf.count), d))
        return cString(buf)
    }

    public func attribute(_ a: Int32, _ d: CUdevice) throws -> Int {
        var v: Int32 = 0
        try check("cuDeviceGetAttribute", api.cuDeviceGetAttribute!(&v, a, d))
        return Int(v)
    }

    public func totalMemory(_ d: CUdevice) throws -> Int {
        var v = 0
        try check("cuDeviceTotalMem", api.cuDeviceTotalMem!(&v, d))
        return v
    }

    // MARK: Contexts, memory, streams, events

    func createContext(_ d: CUdevice) throws -> CUcontext {
        var c: CUcontext? = nil
        try check("cuCtxCreate", api.cuCtxCreate!(&c, 0, d))
        guard let c else { throw CalibrationError.other("cuCtxCreate returned no context") }
        return c
    }

    func destroyContext(_ c: CUcontext) { _ = api.cuCtxDestroy!(c) }
    func setCurrent(_ c: CUcontext?) throws { try check("cuCtxSetCurrent", api.cuCtxSetCurrent!(c)) }
    func synchronize() throws { try check("cuCtxSynchronize", api.cuCtxSynchronize!()) }

    func alloc(_ bytes: Int) throws -> CUdeviceptr {
        var p: CUdeviceptr = 0
        try check("cuMemAlloc", api.cuMemAlloc!(&p, max(bytes, 1)))
        try check("cuMemsetD8", api.cuMemsetD8(p, 0, max(bytes, 1)))
        return p
    }

    func free(_ p: CUdeviceptr) { if p != 0 { _ = api.cuMemFree!(p) } }

    func allocHost(_ bytes: Int) throws -> UnsafeMutableRawPointer {
        var p: UnsafeMutableRawPointer? = nil
        try check("cuMemAllocHost", api.cuMemAllocHost!(&p, max(bytes, 1)))
        guard let p else { throw CalibrationError.other("cuMemAllocHost returned no memory") }
        memset(p, 1, max(bytes, 1))
        return p
    }

    func freeHost(_ p: UnsafeMutableRawPointer) { _ = api.cuMemFreeHost!(p) }

    func createStream(flags: UInt32 = 1) throws -> CUstream {
        var s: CUstream? = nil
        try check("cuStreamCreate", api.cuStreamCreate!(&s, flags))
        guard let s else { throw CalibrationError.other("cuStreamCreate returned no stream") }
        return s
    }

    func destroyStream(_ s: CUstream) { _ = api.cuStreamDestroy!(s) }
    func sync(_ s: CUstream) throws { try check("cuStreamSynchronize", api.cuStreamSynchronize!(s)) }

    func createEvent() throws -> CUevent {
        var e: CUevent? = nil
        try check("cuEventCreate", api.cuEventCreate!(&e, 0))
        guard let e else { throw CalibrationError.other("cuEventCreate returned no event") }
        return e
    }

    func destroyEvent(_ e: CUevent) { _ = api.cuEventDestroy!(e) }
    func record(_ e: CUevent, _ s: CUstream) throws { try check("cuEventRecord", api.cuEventRecord!(e, s)) }
    func wait(_ s: CUstream, _ e: CUevent) throws { try check("cuStreamWaitEvent", api.cuStreamWaitEvent!(s, e, 0)) }

    /// Milliseconds from `a` to `b`, after waiting for `b`.
    func elapsedMs(_ a: CUevent, _ b: CUevent) throws -> Double {
        try check("cuEventSynchronize", api.cuEventSynchronize!(b))
        var ms: Float = 0
        try check("cuEventElapsedTime", api.cuEventElapsedTime!(&ms, a, b))
        return Double(ms)
    }

    // MARK: Copies

    func copyHtoD(_ dst: CUdeviceptr, _ src: UnsafeRawPointer, _ bytes: Int, _ s: CUstream) throws {
        try check("cuMemcpyHtoDAsync", api.cuMemcpyHtoDAsync!(dst, src, bytes, s))
    }

    func copyDtoH(_ dst: UnsafeMutableRawPointer, _ src: CUdeviceptr, _ bytes: Int, _ s: CUstream) throws {
        try check("cuMemcpyDtoHAsync", api.cuMemcpyDtoHAsync!(dst, src, bytes, s))
    }

    func copyDtoD(_ dst: CUdeviceptr, _ src: CUdeviceptr, _ bytes: Int, _ s: CUstream) throws {
        try check("cuMemcpyDtoDAsync", api.cuMemcpyDtoDAsync!(dst, src, bytes, s))
    }

    // MARK: Modules and launches

    func loadModule(ptx: String) throws -> CUmodule {
        var m: CUmodule? = nil
        var log = [CChar](repeating: 0, count: 8192)
        let r: CUresult = ptx.withCString { text in
            if let ex = api.cuModuleLoadDataEx {
                var options: [Int32] = [Int32(GPUSIM_CU_JIT_ERROR_LOG_BUFFER), Int32(GPUSIM_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)]
                return log.withUnsafeMutableBufferPointer { logBuf in
                    var values: [UnsafeMutableRawPointer?] = [
                        UnsafeMutableRawPointer(logBuf.baseAddress),
                        UnsafeMutableRawPointer(bitPattern: logBuf.count),
                    ]
                    return ex(&m, text, 2, &options, &values)
                }
            }
            return api.cuModuleLoadData!(&m, text)
        }
        if r != 0 {
            let jit = cString(log).split(separator: "\n").prefix(3).joined(separator: " | ")
            throw CalibrationError.call(name: "cuModuleLoadData", code: r, codeName: errorName(r),
                                        detail: jit.isEmpty ? errorString(r) : "PTX JIT: \(jit)")
        }
        guard let m else { throw CalibrationError.other("cuModuleLoadData returned no module") }
        return m
    }

    func unloadModule(_ m: CUmodule) { _ = api.cuModuleUnload!(m) }

    func function(_ m: CUmodule, _ name: String) throws -> CUfunction {
        var f: CUfunction? = nil
        try check("cuModuleGetFunction(\(name))", api.cuModuleGetFunction!(&f, m, name))
        guard let f else { throw CalibrationError.other("cuModuleGetFunction returned no function") }
        return f
    }

    func setMaxDynamicShared(_ f: CUfunction, _ bytes: Int) throws {
        try check("cuFuncSetAttribute", api.cuFuncSetAttribute!(f, Int32(GPUSIM_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), Int32(bytes)))
    }

    func occupancy(_ f: CUfunction, blockSize: Int, dynamicShared: Int = 0) throws -> Int {
        var n: Int32 = 0
        try check("cuOccupancyMaxActiveBlocksPerMultiprocessor",
                  api.cuOccupancyMaxActiveBlocksPerMultiprocessor!(&n, f, Int32(blockSize), dynamicShared))
        return Int(n)
    }

    /// Launches `f` with kernel arguments given as raw values (each one's bytes are copied).
    func launch(_ f: CUfunction, grid: (Int, Int, Int), block: (Int, Int, Int), shared: Int = 0,
                stream: CUstream, args: [KernelArg], name: String) throws {
        let storage = args.map { $0.allocate() }
        defer { storage.forEach { $0.deallocate() } }
        var params: [UnsafeMutableRawPointer?] = storage.map { Optional($0) }
        let r = params.withUnsafeMutableBufferPointer { pp in
            api.cuLaunchKernel!(f, UInt32(grid.0), UInt32(grid.1), UInt32(grid.2),
                               UInt32(block.0), UInt32(block.1), UInt32(block.2),
                               UInt32(shared), stream, pp.baseAddress, nil)
        }
        try check("cuLaunchKernel(\(name))", r)
    }
}

/// One kernel argument.
enum KernelArg {
    case u32(UInt32)
    case u64(UInt64)
    case f32(Float)

    func allocate() -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
        switch self {
        case .u32(let v): p.storeBytes(of: v, as: UInt32.self)
        case .u64(let v): p.storeBytes(of: v, as: UInt64.self)
        case .f32(let v): p.storeBytes(of: v, as: Float.self)
        }
        return p
    }
}
