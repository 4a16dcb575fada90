// gpuprobe: device properties and host<->device copy bandwidth by transfer size.
// Provenance tool for Traces/hardware/*.yaml ("measurement: gpuprobe ...").
// Build: nvcc -O2 -o gpuprobe gpuprobe.cu      Run: ./gpuprobe > probe.txt
// Copies are timed with CUDA events around one cudaMemcpyAsync on a non-blocking stream
// (median of many repetitions after warm-up), and also with a host clock around a
// synchronous cudaMemcpy; both are printed. Pageable buffers are touched before timing.
#include <cuda_runtime.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
  fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); exit(1); } } while (0)

static double median(std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; }
static double pct(std::vector<double> v, double q) { std::sort(v.begin(), v.end()); return v[(size_t)(q * (v.size() - 1))]; }

int main() {
  int dev = 0; CK(cudaSetDevice(dev));
  cudaDeviceProp p; CK(cudaGetDeviceProperties(&p, dev));
  int v = 0;
  printf("name: %s\n", p.name);
  printf("compute_capability: %d.%d\n", p.major, p.minor);
  printf("sms: %d\n", p.multiProcessorCount);
  printf("total_global_mem_bytes: %zu\n", p.totalGlobalMem);
  printf("l2_bytes: %d\n", p.l2CacheSize);
  printf("persisting_l2_max_bytes: %d\n", p.persistingL2CacheMaxSize);
  printf("max_threads_per_sm: %d\n", p.maxThreadsPerMultiProcessor);
  printf("max_blocks_per_sm: %d\n", p.maxBlocksPerMultiProcessor);
  printf("regs_per_sm: %d\n", p.regsPerMultiprocessor);
  printf("regs_per_block: %d\n", p.regsPerBlock);
  printf("smem_per_sm_bytes: %zu\n", p.sharedMemPerMultiprocessor);
  printf("smem_per_block_bytes: %zu\n", p.sharedMemPerBlock);
  printf("smem_per_block_optin_bytes: %zu\n", p.sharedMemPerBlockOptin);
  printf("reserved_smem_per_block_bytes: %zu\n", p.reservedSharedMemPerBlock);
  printf("max_threads_per_block: %d\n", p.maxThreadsPerBlock);
  printf("warp_size: %d\n", p.warpSize);
  printf("async_engine_count: %d\n", p.asyncEngineCount);
  printf("memory_bus_width_bits: %d\n", p.memoryBusWidth);
  CK(cudaDeviceGetAttribute(&v, cudaDevAttrClockRate, dev)); printf("clock_khz: %d\n", v);
  CK(cudaDeviceGetAttribute(&v, cudaDevAttrMemoryClockRate, dev)); printf("mem_clock_khz: %d\n", v);
  printf("pci_bus: %04x:%02x:%02x\n", p.pciDomainID, p.pciBusID, p.pciDeviceID);
  int drv = 0, rt = 0; cudaDriverGetVersion(&drv); cudaRuntimeGetVersion(&rt);
  printf("driver_api: %d runtime: %d\n", drv, rt);
  fflush(stdout);

  const size_t maxb = 1ull << 30;
  void *d = nullptr, *hp = nullptr;
  CK(cudaMalloc(&d, maxb));
  CK(cudaMallocHost(&hp, maxb));
  void *hg = aligned_alloc(4096, maxb);
  if (!hg) { fprintf(stderr, "aligned_alloc failed\n"); return 1; }
  memset(hg, 1, maxb); memset(hp, 1, maxb); CK(cudaMemset(d, 2, maxb));
  cudaStream_t s; CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));

  std::vector<size_t> sizes = {8, 1024};
  for (size_t b = 4096; b <= maxb; b *= 2) sizes.push_back(b);
  const char *names[4] = {"h2d_pinned", "d2h_pinned", "h2d_pageable", "d2h_pageable"};
  printf("# mode bytes reps event_median_us event_p10_us event_p90_us event_GBps host_sync_median_us host_GBps\n");
  for (int m = 0; m < 4; m++) {
    void *h = (m < 2) ? hp : hg;
    bool h2d = (m % 2 == 0);
    for (size_t b : sizes) {
      int reps = b <= (1u << 20) ? 300 : (b <= (64u << 20) ? 40 : 10);
      auto cp = [&](bool async) {
        if (h2d) { if (async) CK(cudaMemcpyAsync(d, h, b, cudaMemcpyHostToDevice, s)); else CK(cudaMemcpy(d, h, b, cudaMemcpyHostToDevice)); }
        else     { if (async) CK(cudaMemcpyAsync(h, d, b, cudaMemcpyDeviceToHost, s)); else CK(cudaMemcpy(h, d, b, cudaMemcpyDeviceToHost)); }
      };
      for (int w = 0; w < 3; w++) { cp(true); CK(cudaStreamSynchronize(s)); }
      std::vector<double> ev, hs;
      for (int r = 0; r < reps; r++) {
        CK(cudaEventRecord(e0, s)); cp(true); CK(cudaEventRecord(e1, s)); CK(cudaEventSynchronize(e1));
        float ms = 0; CK(cudaEventElapsedTime(&ms, e0, e1)); ev.push_back(ms * 1e3);
      }
      CK(cudaDeviceSynchronize());
      for (int r = 0; r < reps; r++) {
        auto t0 = std::chrono::steady_clock::now(); cp(false);
        auto t1 = std::chrono::steady_clock::now();
        hs.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
      double em = median(ev), hm = median(hs);
      printf("%s %zu %d %.3f %.3f %.3f %.3f %.3f %.3f\n", names[m], b, reps, em, pct(ev, 0.1), pct(ev, 0.9),
             b / (em * 1e3), hm, b / (hm * 1e3));
      fflush(stdout);
    }
  }
  // Both directions at once (pinned, 256 MiB each way, two streams): is the link full duplex?
  {
    size_t b = 256u << 20; void *d2; CK(cudaMalloc(&d2, b));
    cudaStream_t s2; CK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
    std::vector<double> t;
    for (int r = 0; r < 8; r++) {
      CK(cudaDeviceSynchronize());
      auto t0 = std::chrono::steady_clock::now();
      CK(cudaMemcpyAsync(d, hp, b, cudaMemcpyHostToDevice, s));
      CK(cudaMemcpyAsync((char *)hp + b, d2, b, cudaMemcpyDeviceToHost, s2));
      CK(cudaDeviceSynchronize());
      t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    double m = median(t);
    printf("bidirectional_pinned_256MiB_each: median_us %.1f aggregate_GBps %.2f\n", m, 2.0 * b / (m * 1e3));
  }
  // Device-to-device copy, 1 GiB: bytes read + written over time.
  {
    size_t b = 512u << 20; std::vector<double> ev;
    for (int r = 0; r < 10; r++) {
      CK(cudaEventRecord(e0, s)); CK(cudaMemcpyAsync(d, (char *)d + b, b, cudaMemcpyDeviceToDevice, s));
      CK(cudaEventRecord(e1, s)); CK(cudaEventSynchronize(e1));
      float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); ev.push_back(ms * 1e3);
    }
    double m = median(ev);
    printf("d2d_512MiB: median_us %.1f read_plus_write_GBps %.1f\n", m, 2.0 * b / (m * 1e3));
  }
  return 0;
}
