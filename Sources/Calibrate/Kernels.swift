// The calibration kernels, as PTX text: the driver JIT-compiles PTX in cuModuleLoadData, so
// neither nvcc nor NVRTC is needed. Target sm_60 / PTX ISA 6.4 runs on every GPU since Pascal.

/// Kernel names in ``CalibrationKernels/ptx``.
enum KernelName {
    /// Does nothing: launch latency.
    static let empty = "gpusim_empty"
    /// Compute-bound: `tiles` tiles (grid-stride over CTAs), each thread running `iters` × 16 FMAs per tile.
    /// Parameters: (out: u64, iters: u32, tiles: u32).
    static let fma = "gpusim_fma"
    /// Memory-bound: copies `tiles` tiles of blockDim × 16 float4 (grid-stride over CTAs).
    /// Parameters: (src: u64, dst: u64, tiles: u32).
    static let copy = "gpusim_copy"
    /// Naive GEMM, row-major bf16 C[m×n] = A[m×k]·B[k×n] with fp32 accumulation; 16×16 threads per CTA.
    /// Parameters: (A: u64, B: u64, C: u64, m: u32, n: u32, k: u32).
    static let gemm = "gpusim_gemm_bf16"
}

enum CalibrationKernels {
    /// float4 elements each thread copies per tile in ``KernelName/copy``.
    static let copyElementsPerThread = 16

    static let ptx = """
    .version 6.4
    .target sm_60
    .address_size 64

    .visible .entry gpusim_empty()
    {
        ret;
    }

    .visible .entry gpusim_fma(.param .u64 p_out, .param .u32 p_iters, .param .u32 p_tiles)
    {
        .reg .pred %p<3>;
        .reg .b32 %r<12>;
        .reg .f32 %f<12>;
        .reg .b64 %rd<5>;

        ld.param.u64 %rd1, [p_out];
        cvta.to.global.u64 %rd1, %rd1;
        ld.param.u32 %r1, [p_iters];
        ld.param.u32 %r2, [p_tiles];
        mov.u32 %r3, %ctaid.x;
        mov.u32 %r4, %nctaid.x;
        mov.u32 %r5, %tid.x;
        cvt.rn.f32.u32 %f1, %r5;
        add.f32 %f2, %f1, 0f3F800000;
        add.f32 %f3, %f1, 0f40000000;
        add.f32 %f4, %f1, 0f40400000;
        mov.f32 %f5, 0f3F7FFFEF;
        mov.f32 %f6, 0f3A83126F;
        setp.ge.u32 %p1, %r3, %r2;
        @%p1 bra DONE;
    TILE:
        mov.u32 %r6, 0;
        setp.eq.u32 %p2, %r1, 0;
        @%p2 bra NEXT;
    LOOP:
        fma.rn.f32 %f1, %f1, %f5, %f6;
        fma.rn.f32 %f2, %f2, %f5, %f6;
        fma.rn.f32 %f3, %f3, %f5, %f6;
        fma.rn.f32 %f4, %f4, %f5, %f6;
        fma.rn.f32 %f1, %f1, %f5, %f6;
        fma.rn.f32 %f2, %f2, %f5, %f6;
        fma.rn.f32 %f3, %f3, %f5, %f6;
        fma.rn.f32 %f4, %f4, %f5, %f6;
        fma.rn.f32 %f1, %f1, %f5, %f6;
        fma.rn.f32 %f2, %f2, %f5, %f6;
        fma.rn.f32 %f3, %f3, %f5, %f6;
        fma.rn.f32 %f4, %f4, %f5, %f6;
        fma.rn.f32 %f1, %f1, %f5, %f6;
        fma.rn.f32 %f2, %f2, %f5, %f6;
        fma.rn.f32 %f3, %f3, %f5, %f6;
        fma.rn.f32 %f4, %f4, %f5, %f6;
        add.u32 %r6, %r6, 1;
        setp.lt.u32 %p2, %r6, %r1;
        @%p2 bra LOOP;
    NEXT:
        add.u32 %r3, %r3, %r4;
        setp.lt.u32 %p1, %r3, %r2;
        @%p1 bra TILE;
    DONE:
        add.f32 %f7, %f1, %f2;
        add.f32 %f8, %f3, %f4;
        add.f32 %f9, %f7, %f8;
        mov.u32 %r7, %ctaid.x;
        mov.u32 %r8, %ntid.x;
        mad.lo.u32 %r9, %r7, %r8, %r5;
        mul.wide.u32 %rd2, %r9, 4;
        add.s64 %rd3, %rd1, %rd2;
        st.global.f32 [%rd3], %f9;
        ret;
    }

    .visible .entry gpusim_copy(.param .u64 p_src, .param .u64 p_dst, .param .u32 p_tiles)
    {
        .reg .pred %p<3>;
        .reg .b32 %r<12>;
        .reg .f32 %f<20>;
        .reg .b64 %rd<16>;

        ld.param.u64 %rd1, [p_src];
        ld.param.u64 %rd2, [p_dst];
        cvta.to.global.u64 %rd1, %rd1;
        cvta.to.global.u64 %rd2, %rd2;
        ld.param.u32 %r1, [p_tiles];
        mov.u32 %r2, %ctaid.x;
        mov.u32 %r3, %nctaid.x;
        mov.u32 %r4, %tid.x;
        mov.u32 %r5, %ntid.x;
        mul.lo.u32 %r6, %r5, 16;
        mul.wide.u32 %rd5, %r5, 16;
        setp.ge.u32 %p1, %r2, %r1;
        @%p1 bra DONE;
    TILE:
        mul.wide.u32 %rd3, %r2, %r6;
        cvt.u64.u32 %rd4, %r4;
        add.s64 %rd3, %rd3, %rd4;
        shl.b64 %rd3, %rd3, 4;
        mov.u32 %r7, 0;
    INNER:
        add.s64 %rd6, %rd1, %rd3;
        add.s64 %rd7, %rd6, %rd5;
        add.s64 %rd8, %rd7, %rd5;
        add.s64 %rd9, %rd8, %rd5;
        ld.global.v4.f32 {%f1, %f2, %f3, %f4}, [%rd6];
        ld.global.v4.f32 {%f5, %f6, %f7, %f8}, [%rd7];
        ld.global.v4.f32 {%f9, %f10, %f11, %f12}, [%rd8];
        ld.global.v4.f32 {%f13, %f14, %f15, %f16}, [%rd9];
        add.s64 %rd10, %rd2, %rd3;
        add.s64 %rd11, %rd10, %rd5;
        add.s64 %rd12, %rd11, %rd5;
        add.s64 %rd13, %rd12, %rd5;
        st.global.v4.f32 [%rd10], {%f1, %f2, %f3, %f4};
        st.global.v4.f32 [%rd11], {%f5, %f6, %f7, %f8};
        st.global.v4.f32 [%rd12], {%f9, %f10, %f11, %f12};
        st.global.v4.f32 [%rd13], {%f13, %f14, %f15, %f16};
        shl.b64 %rd14, %rd5, 2;
        add.s64 %rd3, %rd3, %rd14;
        add.u32 %r7, %r7, 4;
        setp.lt.u32 %p2, %r7, 16;
        @%p2 bra INNER;
        add.u32 %r2, %r2, %r3;
        setp.lt.u32 %p1, %r2, %r1;
        @%p1 bra TILE;
    DONE:
        ret;
    }

    .visible .entry gpusim_gemm_bf16(.param .u64 p_a, .param .u64 p_b, .param .u64 p_c,
                                     .param .u32 p_m, .param .u32 p_n, .param .u32 p_k)
    {
        .reg .pred %p<4>;
        .reg .b32 %r<20>;
        .reg .f32 %f<4>;
        .reg .b64 %rd<12>;
        .reg .b16 %h<3>;

        ld.param.u64 %rd1, [p_a];
        ld.param.u64 %rd2, [p_b];
        ld.param.u64 %rd3, [p_c];
        cvta.to.global.u64 %rd1, %rd1;
        cvta.to.global.u64 %rd2, %rd2;
        cvta.to.global.u64 %rd3, %rd3;
        ld.param.u32 %r13, [p_m];
        ld.param.u32 %r14, [p_n];
        ld.param.u32 %r15, [p_k];
        mov.u32 %r1, %ctaid.x;
        mov.u32 %r2, %ntid.x;
        mov.u32 %r3, %tid.x;
        mad.lo.u32 %r4, %r1, %r2, %r3;
        mov.u32 %r5, %ctaid.y;
        mov.u32 %r6, %ntid.y;
        mov.u32 %r7, %tid.y;
        mad.lo.u32 %r8, %r5, %r6, %r7;
        setp.ge.u32 %p1, %r4, %r14;
        setp.ge.or.u32 %p1, %r8, %r13, %p1;
        @%p1 bra DONE;
        mov.f32 %f1, 0f00000000;
        mul.wide.u32 %rd4, %r8, %r15;
        shl.b64 %rd4, %rd4, 1;
        add.s64 %rd4, %rd1, %rd4;
        mul.wide.u32 %rd5, %r4, 2;
        add.s64 %rd5, %rd2, %rd5;
        mul.wide.u32 %rd6, %r14, 2;
        mov.u32 %r9, 0;
        setp.eq.u32 %p2, %r15, 0;
        @%p2 bra STORE;
    LOOP:
        ld.global.u16 %h1, [%rd4];
        ld.global.u16 %h2, [%rd5];
        cvt.u32.u16 %r10, %h1;
        shl.b32 %r10, %r10, 16;
        mov.b32 %f2, %r10;
        cvt.u32.u16 %r11, %h2;
        shl.b32 %r11, %r11, 16;
        mov.b32 %f3, %r11;
        fma.rn.f32 %f1, %f2, %f3, %f1;
        add.s64 %rd4, %rd4, 2;
        add.s64 %rd5, %rd5, %rd6;
        add.u32 %r9, %r9, 1;
        setp.lt.u32 %p2, %r9, %r15;
        @%p2 bra LOOP;
    STORE:
        mul.wide.u32 %rd7, %r8, %r14;
        cvt.u64.u32 %rd8, %r4;
        add.s64 %rd7, %rd7, %rd8;
        shl.b64 %rd7, %rd7, 1;
        add.s64 %rd7, %rd3, %rd7;
        mov.b32 %r12, %f1;
        shr.u32 %r12, %r12, 16;
        cvt.u16.u32 %h1, %r12;
        st.global.u16 [%rd7], %h1;
    DONE:
        ret;
    }
    """
}
