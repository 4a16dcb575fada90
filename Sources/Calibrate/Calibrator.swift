// The measurements: device properties, copies, launch latency, SM scaling, co-runs, expert GEMMs.

import CUDADriver
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything needed to run the calibration kernels in one context (the device's, or a green one).
final class KernelEnv {
    let cuda: CUDA
    let ctx: CUcontext
    /// SMs this context may use.
    let sms: Int
    let cublas: CUBLAS?
    private(set) var module: CUmodule?
    private(set) var fEmpty, fFma, fCopy, fGemm: CUfunction?
    private(set) var streams: [CUstream] = []
    private(set) var events: [CUevent] = []
    private var buffers: [CUdeviceptr] = []
    private var blas: cublasHandle_t?
    /// Why cuBLAS could not be used in this context (GEMMs then fail with it).
    private(set) var blasError: CalibrationError?

    // Kernel geometry: the same work at every SM count, sized on the full GPU.
    let threads = 256
    private(set) var fmaCTAsPerSM = 1, copyCTAsPerSM = 1, gemmCTAsPerSM = 1
    private(set) var fmaTiles = 0, memTiles = 0
    let iterations: Int
    let gemmN = 2 * 14336, gemmK = 4096
    /// GEMM rows (tokens): the option's, or at most 256 for the naive PTX GEMM.
    let rows: Int
    private var fmaOut: CUdeviceptr = 0, memSrc: CUdeviceptr = 0, memDst: CUdeviceptr = 0
    private var gemmX: CUdeviceptr = 0, gemmW: CUdeviceptr = 0, gemmC: CUdeviceptr = 0

    private init(cuda: CUDA, ctx: CUcontext, sms: Int, cublas: CUBLAS?, options: CalibrationOptions) {
        self.cuda = cuda
        self.ctx = ctx
        self.sms = sms
        self.cublas = cublas
        iterations = options.computeIterations
        rows = cublas == nil ? min(options.gemmKernelTokens, 256) : options.gemmKernelTokens
    }

    /// Makes `ctx` current, loads the kernels, creates two streams (with `greenStreams` when given)
    /// and four events, and allocates the kernels' buffers. On failure, frees what it made.
    static func make(cuda: CUDA, ctx: CUcontext, sms: Int, fullSMs: Int, greenStreams: ((Int) throws -> CUstream)?,
                     cublas: CUBLAS?, options: CalibrationOptions, memoryBytes: Int) throws -> KernelEnv {
        let env = KernelEnv(cuda: cuda, ctx: ctx, sms: sms, cublas: cublas, options: options)
        do {
            try env.setUp(fullSMs: fullSMs, greenStreams: greenStreams, options: options, memoryBytes: memoryBytes)
        } catch {
            env.destroy()
            throw error
        }
        return env
    }

    private func setUp(fullSMs: Int, greenStreams: ((Int) throws -> CUstream)?, options: CalibrationOptions,
                       memoryBytes: Int) throws {
        try cuda.setCurrent(ctx)
        let m = try cuda.loadModule(ptx: CalibrationKernels.ptx)
        module = m
        let fma = try cuda.function(m, KernelName.fma), copy = try cuda.function(m, KernelName.copy)
        let gemm = try cuda.function(m, KernelName.gemm)
        (fEmpty, fFma, fCopy, fGemm) = (try cuda.function(m, KernelName.empty), fma, copy, gemm)
        for i in 0..<2 { streams.append(try greenStreams?(i) ?? cuda.createStream()) }
        for _ in 0..<4 { events.append(try cuda.createEvent()) }
        fmaCTAsPerSM = max(1, try cuda.occupancy(fma, blockSize: threads))
        copyCTAsPerSM = max(1, try cuda.occupancy(copy, blockSize: threads))
        gemmCTAsPerSM = max(1, try cuda.occupancy(gemm, blockSize: 256))
        fmaTiles = options.computeWaves * fmaCTAsPerSM * fullSMs
        let tileBytes = threads * CalibrationKernels.copyElementsPerThread * 16
        memTiles = max(1, memoryBytes / tileBytes)
        func alloc(_ bytes: Int) throws -> CUdeviceptr {
            let p = try cuda.alloc(bytes)
            buffers.append(p)
            return p
        }
        fmaOut = try alloc(fmaTiles * threads * 4)
        memSrc = try alloc(memTiles * tileBytes)
        memDst = try alloc(memTiles * tileBytes)
        gemmX = try alloc(rows * gemmK * 2)
        gemmW = try alloc(gemmN * gemmK * 2)
        gemmC = try alloc(rows * gemmN * 2)
        if let cublas {
            do { blas = try cublas.createHandle(stream: streams[0]) } catch let e as CalibrationError { blasError = e }
        }
    }

    var gemmBackend: String { cublas == nil ? "ptx-naive" : "cublas" }

    func shape(_ kind: KernelKind, fullSMs: Int) -> KernelShape {
        switch kind {
        case .compute:
            return KernelShape(kind: .compute, ctas: fmaTiles, threadsPerCTA: threads, ctasPerSM: fmaCTAsPerSM,
                               dramBytes: Double(fmaTiles * threads * 4),
                               flops: 2 * 16 * Double(fmaTiles) * Double(threads) * Double(iterations),
                               detail: "FMA loop: \(fmaTiles) CTAs × \(threads) threads (\(fmaCTAsPerSM) per SM) × \(iterations) × 16 fp32 FMAs")
        case .memory:
            let bytes = Double(memTiles * threads * CalibrationKernels.copyElementsPerThread * 16)
            return KernelShape(kind: .memory, ctas: memTiles, threadsPerCTA: threads, ctasPerSM: copyCTAsPerSM,
                               dramBytes: 2 * bytes, flops: 0,
                               detail: "device copy of \(Int(bytes)) bytes (read + write \(Int(2 * bytes))): \(memTiles) CTAs × \(threads) threads, float4")
        case .gemm:
            let flops = 2 * Double(rows) * Double(gemmN) * Double(gemmK)
            let bytes = 2 * Double(rows * gemmK + gemmK * gemmN + rows * gemmN)
            if cublas != nil {
                return KernelShape(kind: .gemm, ctas: 0, threadsPerCTA: 0, ctasPerSM: nil, dramBytes: bytes, flops: flops,
                                   detail: "cuBLAS cublasGemmEx bf16 (fp32 accumulate) \(rows)×\(gemmN)×\(gemmK): Mixtral-8x7B mlp_up_proj, \(rows) tokens")
            }
            let ctas = ((gemmN + 15) / 16) * ((rows + 15) / 16)
            return KernelShape(kind: .gemm, ctas: ctas, threadsPerCTA: 256, ctasPerSM: gemmCTAsPerSM, dramBytes: bytes, flops: flops,
                               detail: "naive PTX GEMM bf16 \(rows)×\(gemmN)×\(gemmK) (no cuBLAS): Mixtral-8x7B mlp_up_proj, \(rows) tokens")
        }
    }

    /// Enqueues one kernel of `kind` on `stream`. `gridLimit`: launch that many one-per-SM CTAs instead.
    func enqueue(_ kind: KernelKind, on stream: CUstream, iterations: Int, gridLimit: (ctas: Int, shared: Int)? = nil) throws {
        switch kind {
        case .compute:
            let grid = gridLimit?.ctas ?? fmaTiles
            try cuda.launch(fFma!, grid: (grid, 1, 1), block: (threads, 1, 1), shared: gridLimit?.shared ?? 0,
                            stream: stream, args: [.u64(UInt64(fmaOut)), .u32(UInt32(iterations)), .u32(UInt32(fmaTiles))],
                            name: KernelName.fma)
        case .memory:
            let grid = gridLimit?.ctas ?? memTiles
            try cuda.launch(fCopy!, grid: (grid, 1, 1), block: (threads, 1, 1), shared: gridLimit?.shared ?? 0,
                            stream: stream, args: [.u64(UInt64(memSrc)), .u64(UInt64(memDst)), .u32(UInt32(memTiles))],
                            name: KernelName.copy)
        case .gemm:
            try gemm(on: stream, rows: rows, n: gemmN, k: gemmK, x: gemmX, w: gemmW, c: gemmC)
        }
    }

    /// `C[rows × n] = X[rows × k] · Wᵀ` (cuBLAS) or `X · W` with W as [k × n] (naive PTX), bf16.
    func gemm(on stream: CUstream, rows: Int, n: Int, k: Int, x: CUdeviceptr, w: CUdeviceptr, c: CUdeviceptr) throws {
        if let cublas, let blas {
            try cublas.linear(blas, stream: stream, rows: rows, n: n, k: k, x: x, w: w, c: c)
        } else if let blasError {
            throw blasError
        } else {
            try cuda.launch(fGemm!, grid: ((n + 15) / 16, (rows + 15) / 16, 1), block: (16, 16, 1), stream: stream,
                            args: [.u64(UInt64(x)), .u64(UInt64(w)), .u64(UInt64(c)),
                                   .u32(UInt32(rows)), .u32(UInt32(n)), .u32(UInt32(k))],
                            name: KernelName.gemm)
        }
    }

    /// Milliseconds of `body` enqueued on streams[0], between two events.
    func time(_ body: (CUstream) throws -> Void) throws -> Double {
        let s = streams[0]
        try cuda.record(events[0], s)
        try body(s)
        try cuda.record(events[1], s)
        return try cuda.elapsedMs(events[0], events[1])
    }

    /// Two bodies on two streams from one common start: (first's time, second's time, makespan), ms.
    func timePair(_ a: (CUstream) throws -> Void, _ b: (CUstream) throws -> Void) throws -> (Double, Double, Double) {
        try cuda.synchronize()
        let (s0, s1) = (streams[0], streams[1])
        try cuda.record(events[0], s0)
        try cuda.wait(s1, events[0])
        try a(s0)
        try b(s1)
        try cuda.record(events[1], s0)
        try cuda.record(events[2], s1)
        let ta = try cuda.elapsedMs(events[0], events[1])
        let tb = try cuda.elapsedMs(events[0], events[2])
        return (ta, tb, max(ta, tb))
    }

    func destroy() {
        try? cuda.setCurrent(ctx)
        _ = try? cuda.synchronize()
        if let blas, let cublas { cublas.destroy(blas) }
        blas = nil
        buffers.forEach { cuda.free($0) }
        buffers = []
        events.forEach { cuda.destroyEvent($0) }
        events = []
        streams.forEach { cuda.destroyStream($0) }
        streams = []
        if let module { cuda.unloadModule(module) }
        module = nil
    }
}

/// Runs a calibration on one device.
public final class Calibrator {
    public let options: CalibrationOptions
    let cuda: CUDA
    let dev: CUdevice
    let ctx: CUcontext
    let cublas: CUBLAS?
    public private(set) var info: DeviceInfo
    var notes: [String] = []

    /// Loads the driver (and cuBLAS and NVRTC where present), opens the device and reads its properties.
    public init(options: CalibrationOptions) throws {
        self.options = options
        cuda = try CUDA(path: options.libcuda)
        let count = try cuda.deviceCount()
        guard options.device >= 0, options.device < count else {
            throw CalibrationError.other("device \(options.device) does not exist: the driver sees \(count) device(s)")
        }
        dev = try cuda.device(options.device)
        ctx = try cuda.createContext(dev)
        let (blas, blasNote) = CUBLAS.load(path: options.libcublas)
        cublas = blas
        notes.append(blasNote)
        info = try Calibrator.deviceInfo(cuda: cuda, dev: dev, ordinal: options.device)
        if let blas {
            let s = try cuda.createStream()
            if let h = try? blas.createHandle(stream: s) {
                info.cublasVersion = blas.version(h)
                blas.destroy(h)
            }
            cuda.destroyStream(s)
        }
        if options.libnvrtc != "none" {
            var err = [CChar](repeating: 0, count: 2048)
            if gpusim_nvrtc_load(options.libnvrtc, &err, err.count) == GPUSIM_LOAD_OK,
               let f = gpusim_nvrtc_api().pointee.nvrtcVersion {
                var major: Int32 = 0, minor: Int32 = 0
                if f(&major, &minor) == 0 { info.nvrtcVersion = "\(major).\(minor)" }
            }
        }
        options.log("device \(options.device): \(info.name), \(info.smCount) SMs, cc \(info.computeCapability), driver \(info.driverVersion), green contexts \(info.greenContexts ? "yes" : "no"), \(blasNote)")
    }

    deinit {
        cuda.destroyContext(ctx)
    }

    static func deviceInfo(cuda: CUDA, dev: CUdevice, ordinal: Int) throws -> DeviceInfo {
        func a(_ attr: Int) throws -> Int { try cuda.attribute(Int32(attr), dev) }
        let busValue = try a(GPUSIM_CU_DEVICE_ATTRIBUTE_PCI_BUS_ID)
        let domainValue = try a(GPUSIM_CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID)
        let slotValue = try a(GPUSIM_CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID)
        let bus = String(busValue, radix: 16), domain = String(domainValue, radix: 16), slot = String(slotValue, radix: 16)
        func pad(_ s: String, _ n: Int) -> String { String(repeating: "0", count: max(0, n - s.count)) + s }
        return DeviceInfo(
            ordinal: ordinal, name: try cuda.name(dev),
            computeCapability: "\(try a(GPUSIM_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)).\(try a(GPUSIM_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR))",
            smCount: try a(GPUSIM_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
            clockKHz: try a(GPUSIM_CU_DEVICE_ATTRIBUTE_CLOCK_RATE),
            memoryClockKHz: try a(GPUSIM_CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE),
            memoryBusWidthBits: try a(GPUSIM_CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH),
            totalMemoryBytes: try cuda.totalMemory(dev),
            l2Bytes: try a(GPUSIM_CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE),
            asyncEngines: try a(GPUSIM_CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT),
            maxThreadsPerSM: try a(GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR),
            maxBlocksPerSM: try a(GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR),
            registersPerSM: try a(GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR),
            sharedMemoryPerSMBytes: try a(GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR),
            sharedMemoryPerBlockOptinBytes: try a(GPUSIM_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
            pciBusID: "\(pad(domain, 4)):\(pad(bus, 2)):\(pad(slot, 2)).0",
            driverVersion: try cuda.driverVersion(),
            greenContexts: cuda.hasGreenContexts,
            cublasVersion: nil, nvrtcVersion: nil)
    }

    var memoryKernelBytes: Int {
        if let b = options.memoryBufferBytes { return b }
        return min(max(info.totalMemoryBytes / 32, 64 << 20), 2 << 30)
    }

    func mainEnv() throws -> KernelEnv {
        try KernelEnv.make(cuda: cuda, ctx: ctx, sms: info.smCount, fullSMs: info.smCount, greenStreams: nil,
                      cublas: cublas, options: options, memoryBytes: memoryKernelBytes)
    }

    /// Runs every selected section.
    public func run(tool: String = "gpusim-calibrate", createdAt: String = "", host: String = "") throws -> CalibrationResults {
        var r = CalibrationResults(tool: tool, createdAt: createdAt, host: host, device: info)
        let sections = options.sections
        r.gemmBackend = cublas == nil ? "ptx-naive" : "cublas"
        if sections.contains(.copies) { r.copies = section(.copies, measureCopies) ?? [] }
        if sections.contains(.launch) { r.launch = section(.launch, measureLaunch) }
        if sections.contains(.smScaling) { r.smScaling = section(.smScaling, measureSMScaling) ?? [] }
        if sections.contains(.coRun) { r.coRuns = section(.coRun, measureCoRuns) ?? [] }
        if sections.contains(.gemm) { r.gemms = section(.gemm, measureGEMMs) ?? [] }
        r.notes = notes + failures.map { "FAILED \($0)" }
        return r
    }

    /// Sections that failed, each with the call that failed ("copies: cuMemAlloc failed: ...").
    public private(set) var failures: [String] = []

    /// Runs one section; a failure is recorded (and logged) and the run goes on with the next.
    func section<T>(_ s: CalibrationSection, _ body: () throws -> T) -> T? {
        do {
            return try body()
        } catch {
            let line = "\(s.rawValue): \(error)"
            failures.append(line)
            options.log("FAILED \(line)")
            _ = try? cuda.setCurrent(ctx)
            return nil
        }
    }

    // MARK: - Copies

    public func measureCopies() throws -> [CopyMeasurement] {
        try cuda.setCurrent(ctx)
        let sizes = options.resolvedCopySizes
        guard let top = sizes.max(), top > 0 else { return [] }
        let s0 = try cuda.createStream(), s1 = try cuda.createStream()
        let ev = try (0..<3).map { _ in try cuda.createEvent() }
        let dA = try cuda.alloc(top), dB = try cuda.alloc(top)
        let pinnedA = try cuda.allocHost(top), pinnedB = try cuda.allocHost(top)
        let pageA = try pageable(top), pageB = try pageable(top)
        defer {
            _ = try? cuda.synchronize()
            cuda.free(dA); cuda.free(dB)
            cuda.freeHost(pinnedA); cuda.freeHost(pinnedB)
            Glibc.free(pageA); Glibc.free(pageB)
            ev.forEach { cuda.destroyEvent($0) }
            cuda.destroyStream(s0); cuda.destroyStream(s1)
        }
        func one(_ body: () throws -> Void) throws -> Double {
            try cuda.record(ev[0], s0)
            try body()
            try cuda.record(ev[1], s0)
            return try cuda.elapsedMs(ev[0], ev[1])
        }
        var out: [CopyMeasurement] = []
        for pinned in [true, false] {
            let (hA, hB) = pinned ? (pinnedA, pinnedB) : (pageA, pageB)
            for bytes in sizes {
                let (w, n) = options.copyRepeats(bytes: bytes)
                let h2d = try measure(warmup: w, repeats: n) { try one { try cuda.copyHtoD(dA, hA, bytes, s0) } }
                let d2h = try measure(warmup: w, repeats: n) { try one { try cuda.copyDtoH(hB, dB, bytes, s0) } }
                out.append(CopyMeasurement(direction: .h2d, pinned: pinned, bytes: bytes, time: h2d))
                out.append(CopyMeasurement(direction: .d2h, pinned: pinned, bytes: bytes, time: d2h))
                // Both directions at once, from one start event.
                var th: [Double] = [], td: [Double] = [], tm: [Double] = []
                for i in 0..<(w + n) {
                    try cuda.synchronize()
                    try cuda.record(ev[0], s0)
                    try cuda.wait(s1, ev[0])
                    try cuda.copyHtoD(dA, hA, bytes, s0)
                    try cuda.copyDtoH(hB, dB, bytes, s1)
                    try cuda.record(ev[1], s0)
                    try cuda.record(ev[2], s1)
                    let a = try cuda.elapsedMs(ev[0], ev[1]), b = try cuda.elapsedMs(ev[0], ev[2])
                    if i >= w { th.append(a); td.append(b); tm.append(max(a, b)) }
                }
                out.append(CopyMeasurement(direction: .bidirectional, pinned: pinned, bytes: bytes,
                                           time: Summary(samples: tm, warmup: w),
                                           h2dTime: Summary(samples: th, warmup: w), d2hTime: Summary(samples: td, warmup: w)))
                let gbs = out.suffix(3).map { fmt($0.bytesPerSecond / 1e9) }
                options.log("copies \(pinned ? "pinned" : "pageable") \(bytes) B: H2D \(gbs[0]) GB/s, D2H \(gbs[1]) GB/s, both \(gbs[2]) GB/s")
            }
        }
        for bytes in sizes {
            let (w, n) = options.copyRepeats(bytes: bytes)
            let d2d = try measure(warmup: w, repeats: n) { try one { try cuda.copyDtoD(dB, dA, bytes, s0) } }
            out.append(CopyMeasurement(direction: .d2d, pinned: true, bytes: bytes, time: d2d))
        }
        options.log("copies: \(out.count) series points")
        return out
    }

    /// Page-aligned pageable host memory, touched so that no first-touch faults land in a timing.
    func pageable(_ bytes: Int) throws -> UnsafeMutableRawPointer {
        var p: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&p, 4096, max(bytes, 1)) == 0, let p else {
            throw CalibrationError.other("cannot allocate \(bytes) bytes of pageable host memory")
        }
        memset(p, 1, max(bytes, 1))
        return p
    }

    // MARK: - Launch latency

    public func measureLaunch() throws -> LaunchMeasurement {
        let env = try mainEnv()
        defer { env.destroy() }
        let n = max(options.launchesPerBurst, 1)
        let s = env.streams[0]
        let (w, r) = options.kernelRepeats
        var hostPerLaunch: [Double] = []
        let burst = try measure(warmup: w, repeats: r) {
            try cuda.record(env.events[0], s)
            let t0 = hostSeconds()
            for _ in 0..<n { try cuda.launch(env.fEmpty!, grid: (1, 1, 1), block: (32, 1, 1), stream: s, args: [], name: KernelName.empty) }
            let t1 = hostSeconds()
            try cuda.record(env.events[1], s)
            hostPerLaunch.append((t1 - t0) / Double(n) * 1e6)
            return try cuda.elapsedMs(env.events[0], env.events[1]) * 1e3 / Double(n)
        }
        let single = try measure(warmup: w, repeats: max(r * 5, 10)) {
            try cuda.sync(s)
            return try env.time { st in
                try cuda.launch(env.fEmpty!, grid: (1, 1, 1), block: (32, 1, 1), stream: st, args: [], name: KernelName.empty)
            } * 1e3
        }
        let host = Summary(samples: Array(hostPerLaunch.suffix(r)), warmup: w)
        options.log("launch: \(fmt(burst.medianMs)) µs back-to-back, \(fmt(host.medianMs)) µs host enqueue, \(fmt(single.medianMs)) µs single")
        return LaunchMeasurement(backToBackUs: burst, hostEnqueueUs: host, singleUs: single, launchesPerBurst: n)
    }

    // MARK: - SM scaling

    public func measureSMScaling() throws -> [SMScalingSeries] {
        let total = info.smCount
        let counts = options.resolvedSMCounts(total: total)
        let (w, r) = options.kernelRepeats
        let iters = options.computeIterations
        var points: [KernelKind: [SMScalingPoint]] = [:]
        var shapes: [KernelKind: KernelShape] = [:]

        // All SMs, in the device's own context.
        let main = try mainEnv()
        for kind in KernelKind.allCases {
            shapes[kind] = main.shape(kind, fullSMs: total)
            let t = try measure(warmup: w, repeats: r) { try main.time { try main.enqueue(kind, on: $0, iterations: iters) } }
            points[kind, default: []].append(SMScalingPoint(sms: total, requestedSMs: total, time: t))
        }
        main.destroy()
        options.log("sm-scaling \(total) SMs: " + KernelKind.allCases.map { "\($0.rawValue) \(fmt(points[$0]![0].time.medianMs, 3)) ms" }.joined(separator: ", "))

        var method = SMLimitMethod.greenContext
        var greenFailure: String?
        if cuda.hasGreenContexts {
            var seen: Set<Int> = [total]
            var measured = 0
            var errors: [String] = []
            for n in counts where n < total {
                do {
                    guard let (granted, gpts) = try greenPoint(requested: n, total: total, seen: &seen) else { continue }
                    for (kind, t) in gpts { points[kind, default: []].append(SMScalingPoint(sms: granted, requestedSMs: n, time: t)) }
                    measured += 1
                } catch {
                    errors.append("\(n) SMs: \(error)")
                    options.log("sm-scaling: green context of \(n) SMs failed: \(error)")
                    _ = try? cuda.setCurrent(ctx)
                }
            }
            if measured == 0 && !errors.isEmpty {
                greenFailure = errors.joined(separator: "; ")
            } else if !errors.isEmpty {
                notes.append("sm-scaling: some green contexts failed: " + errors.joined(separator: "; "))
            }
        } else {
            greenFailure = "the driver has no green-context entry points (cuDevSmResourceSplitByCount, cuGreenCtxCreate, cuCtxFromGreenCtx; driver 12.4+)"
        }
        try cuda.setCurrent(ctx)
        if let greenFailure {
            method = .gridLimited
            notes.append("sm-scaling: green contexts unusable (\(greenFailure)); fell back to grids of N CTAs that each fill one SM (one CTA per SM by shared memory); no GEMM series in this mode")
            options.log("sm-scaling: green contexts unusable: \(greenFailure); grid-limited fallback")
            points = try gridLimitedPoints(counts: counts, total: total)
            shapes[.gemm] = nil
        }
        return KernelKind.allCases.compactMap { kind in
            guard var shape = shapes[kind], let p = points[kind], !p.isEmpty else { return nil }
            if method == .gridLimited { shape.ctasPerSM = 1; shape.detail += "; grid-limited: N CTAs, one per SM" }
            return SMScalingSeries(kernel: shape, method: method, points: p.sorted { $0.sms < $1.sms })
        }
    }

    /// One green context of (at least) `requested` SMs: the three kernels' times. Nil if the split
    /// granted a count already measured.
    func greenPoint(requested: Int, total: Int, seen: inout Set<Int>) throws -> (Int, [(KernelKind, Summary)])? {
        let api = cuda.api
        var full = GPUSimCUdevResource()
        try cuda.check("cuDeviceGetDevResource", api.cuDeviceGetDevResource!(dev, &full, Int32(GPUSIM_CU_DEV_RESOURCE_TYPE_SM)))
        var part = GPUSimCUdevResource()
        var rest = GPUSimCUdevResource()
        var groups: UInt32 = 1
        try cuda.check("cuDevSmResourceSplitByCount(\(requested))",
                       api.cuDevSmResourceSplitByCount!(&part, &groups, &full, &rest, 0, UInt32(requested)))
        let granted = Int(part.u.sm.smCount)
        guard groups >= 1, granted > 0, granted < total, !seen.contains(granted) else {
            options.log("sm-scaling: request \(requested) SMs granted \(granted) (groups \(groups)); skipped")
            return nil
        }
        seen.insert(granted)
        var desc: CUdevResourceDesc? = nil
        try cuda.check("cuDevResourceGenerateDesc", api.cuDevResourceGenerateDesc!(&desc, &part, 1))
        var green: CUgreenCtx? = nil
        try cuda.check("cuGreenCtxCreate", api.cuGreenCtxCreate!(&green, desc, dev, UInt32(GPUSIM_CU_GREEN_CTX_DEFAULT_STREAM)))
        guard let green else { throw CalibrationError.other("cuGreenCtxCreate returned no context") }
        defer { _ = api.cuGreenCtxDestroy!(green) }
        var gctx: CUcontext? = nil
        try cuda.check("cuCtxFromGreenCtx", api.cuCtxFromGreenCtx!(&gctx, green))
        guard let gctx else { throw CalibrationError.other("cuCtxFromGreenCtx returned no context") }
        let streamMaker: ((Int) throws -> CUstream)?
        if let make = api.cuGreenCtxStreamCreate {
            streamMaker = { _ in
                var s: CUstream? = nil
                try self.cuda.check("cuGreenCtxStreamCreate", make(&s, green, UInt32(GPUSIM_CU_STREAM_NON_BLOCKING), 0))
                guard let s else { throw CalibrationError.other("cuGreenCtxStreamCreate returned no stream") }
                return s
            }
        } else {
            streamMaker = nil
        }
        let env = try KernelEnv.make(cuda: cuda, ctx: gctx, sms: granted, fullSMs: total, greenStreams: streamMaker,
                                cublas: cublas, options: options, memoryBytes: memoryKernelBytes)
        defer { env.destroy() }
        let (w, r) = options.kernelRepeats
        var out: [(KernelKind, Summary)] = []
        for kind in KernelKind.allCases {
            do {
                out.append((kind, try measure(warmup: w, repeats: r) {
                    try env.time { try env.enqueue(kind, on: $0, iterations: options.computeIterations) }
                }))
            } catch where kind == .gemm {
                notes.append("sm-scaling: GEMM in a green context of \(granted) SMs failed: \(error)")
                _ = try? cuda.synchronize()
            }
        }
        options.log("sm-scaling \(granted) SMs (asked \(requested)): " + out.map { "\($0.0.rawValue) \(fmt($0.1.medianMs, 3)) ms" }.joined(separator: ", "))
        return (granted, out)
    }

    /// Fallback without green contexts: grids of N CTAs, each forced alone on its SM by shared memory.
    func gridLimitedPoints(counts: [Int], total: Int) throws -> [KernelKind: [SMScalingPoint]] {
        let env = try mainEnv()
        defer { env.destroy() }
        let shared = min(info.sharedMemoryPerSMBytes / 2 + 1024, info.sharedMemoryPerBlockOptinBytes)
        try cuda.setMaxDynamicShared(env.fFma!, shared)
        try cuda.setMaxDynamicShared(env.fCopy!, shared)
        let (w, r) = options.kernelRepeats
        var points: [KernelKind: [SMScalingPoint]] = [:]
        for n in counts {
            for kind in [KernelKind.compute, .memory] {
                let t = try measure(warmup: w, repeats: r) {
                    try env.time { try env.enqueue(kind, on: $0, iterations: options.computeIterations, gridLimit: (n, shared)) }
                }
                points[kind, default: []].append(SMScalingPoint(sms: n, requestedSMs: n, time: t))
            }
        }
        return points
    }

    // MARK: - Co-runs

    public func measureCoRuns() throws -> [CoRunMeasurement] {
        let env = try mainEnv()
        defer { env.destroy() }
        let (w, r) = options.kernelRepeats
        let iters = options.computeIterations
        let kinds = KernelKind.allCases
        var alone: [KernelKind: Summary] = [:]
        for k in kinds {
            alone[k] = try measure(warmup: w, repeats: r) {
                try env.timePair({ try env.enqueue(k, on: $0, iterations: iters) }, { _ in }).0
            }
        }
        var out: [CoRunMeasurement] = []
        // Every ordered pair: the kernel launched first tends to take the SMs first.
        for a in kinds {
            for b in kinds {
                var ta: [Double] = [], tb: [Double] = [], tm: [Double] = []
                for j in 0..<(w + r) {
                    let (x, y, m) = try env.timePair({ try env.enqueue(a, on: $0, iterations: iters) },
                                                     { try env.enqueue(b, on: $0, iterations: iters) })
                    if j >= w { ta.append(x); tb.append(y); tm.append(m) }
                }
                let c = CoRunMeasurement(first: a, second: b, firstAlone: alone[a]!, secondAlone: alone[b]!,
                                         firstTogether: Summary(samples: ta, warmup: w),
                                         secondTogether: Summary(samples: tb, warmup: w),
                                         makespan: Summary(samples: tm, warmup: w))
                options.log("co-run \(a.rawValue)+\(b.rawValue): slowdowns \(fmt(c.firstSlowdown)), \(fmt(c.secondSlowdown))")
                out.append(c)
            }
        }
        return out
    }

    // MARK: - Expert GEMMs

    public func measureGEMMs() throws -> [GEMMMeasurement] {
        let env = try mainEnv()
        defer { env.destroy() }
        var tokens = options.resolvedTokenCounts
        var (w, r) = options.kernelRepeats
        if cublas == nil {
            tokens = tokens.filter { $0 <= 64 }
            if options.repeats == nil { (w, r) = (1, 3) }
            notes.append("gemm: no cuBLAS; times are of a naive PTX GEMM (bf16, fp32 accumulation), token counts up to 64 only — not representative of tuned kernels")
        }
        guard let maxTokens = tokens.max() else { return [] }
        var maxIn = 0, maxOut = 0, maxW = 0
        for s in options.shapes {
            let up = s.gated ? 2 * s.ffn : s.ffn
            maxIn = max(maxIn, s.hidden, s.ffn)
            maxOut = max(maxOut, up, s.hidden)
            maxW = max(maxW, s.hidden * up, s.ffn * s.hidden)
        }
        let x = try cuda.alloc(maxTokens * maxIn * 2)
        let wt = try cuda.alloc(maxW * 2)
        let c = try cuda.alloc(maxTokens * maxOut * 2)
        defer { cuda.free(x); cuda.free(wt); cuda.free(c) }
        var out: [GEMMMeasurement] = []
        for s in options.shapes {
            let up = s.gated ? 2 * s.ffn : s.ffn
            for t in tokens {
                for (op, n, k) in [("mlp_up_proj", up, s.hidden), ("mlp_down_proj", s.hidden, s.ffn)] {
                    let time = try measure(warmup: w, repeats: r) {
                        try env.time { try env.gemm(on: $0, rows: t, n: n, k: k, x: x, w: wt, c: c) }
                    }
                    out.append(GEMMMeasurement(op: op, model: s.model, tokens: t, hidden: s.hidden, ffn: s.ffn, tp: 1,
                                               gated: s.gated, m: t, n: n, k: k, time: time))
                }
            }
            options.log("gemm \(s.model): \(tokens.count) token counts")
        }
        return out
    }
}

/// `x` with `digits` decimals.
func fmt(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }

/// A NUL-terminated C buffer as a String.
func cString(_ buf: [CChar]) -> String {
    buf.withUnsafeBufferPointer { p in String(cString: p.baseAddress!) }
}
