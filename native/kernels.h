// Kernel table shared by the per-ISA translation units (kernels_avx512.cc, kernels_avx2.cc)
// and the Node-API glue (addon.cc). Plain C++ types only: the ISA units are compiled with
// -mavx512f / -mavx2 and must not inline into code that runs before CPU dispatch.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tsnn {

/** C(m×n) (+)= op(A)·op(B); element (i,p) of op(A) is A[i*ars + p*aps], (p,j) of op(B) is B[p*bps + j*bjs]. */
struct GemmArgs {
  long m, n, k;
  const float* A;
  long ars, aps;
  const float* B;
  long bps, bjs;
  float* C;
  long ldc;
  bool acc;
};

/** Per-thread packing buffers (grown on demand by the caller, never inside a product). */
struct Workspace {
  float* a = nullptr;  // packed A block (MC × KC)
  float* b = nullptr;  // packed B block (KC × NC)
  size_t aFloats = 0, bFloats = 0;
};

struct KernelTable {
  const char* isa;
  int mr, nr, kc, mc, nc;
  /** Computes rows [i0,i1) × columns [j0,j1) of C over the whole k (the partition never changes the sums). */
  void (*gemmPart)(const GemmArgs& g, long i0, long i1, long j0, long j1, Workspace& ws);
  void (*biasAct)(long m, long n, float* z, const float* b, float* a, int relu);
  void (*reluMask)(long n, const float* z, float* d);
  void (*colSums)(long m, long n, const float* d, float* db);
  double (*sumF64)(long n, const float* x);
  double (*sumSqF64)(long n, const float* x);
  void (*adam)(long n, float* w, const float* g, float* m, float* v, float b1, float b2, float eps, float lr, float c1, float c2,
               float l2, float shrink);
  void (*momentum)(long n, float* w, const float* g, float* v, float mu, float gain, float wd, float lr, int nesterov);
  void (*gatherRows)(long m, long f, const float* src, const uint32_t* idx, float* dst);
};

const KernelTable* avx512Table();
const KernelTable* avx2Table();

}  // namespace tsnn
