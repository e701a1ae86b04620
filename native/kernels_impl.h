// The kernels, written once over a small vector abstraction and compiled twice: by
// kernels_avx512.cc (16-lane __m512, 8×32 register tile) and kernels_avx2.cc (8-lane __m256,
// 6×16 tile). Include after defining TSNN_AVX512 or TSNN_AVX2; everything here is static.
//
// Matrix products: B is packed into column panels of NR (kc × NR contiguous, zero-padded) and A
// into row panels of MR (kc × MR), both in cache blocks (KC deep, MC rows, NC columns); one
// micro-kernel then serves A·B, Aᵀ·B and A·Bᵀ, since the transposes are absorbed by the packing.
// Products too small for packing to pay (W2's layers) read A and B in place.
//
// Every element of C is summed in one fixed order (p ascending within a KC block, then the
// blocks in order, each block's sum added to C), whatever rectangle of C a thread is given:
// results do not depend on the number of threads.
#include <immintrin.h>
#include <cstring>
#include "kernels.h"

namespace tsnn {
namespace {

#if defined(TSNN_AVX512)
typedef __m512 V;
constexpr int W = 16;
constexpr int MR = 8;
static inline V vload(const float* p) { return _mm512_loadu_ps(p); }
static inline void vstore(float* p, V v) { _mm512_storeu_ps(p, v); }
static inline V vzero() { return _mm512_setzero_ps(); }
static inline V vset1(float x) { return _mm512_set1_ps(x); }
static inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
static inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
static inline V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
static inline V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
static inline V vdiv(V a, V b) { return _mm512_div_ps(a, b); }
static inline V vsqrt(V a) { return _mm512_sqrt_ps(a); }
static inline V vloadn(const float* p, int cnt) { return _mm512_maskz_loadu_ps((__mmask16)((1u << cnt) - 1), p); }
static inline void vstoren(float* p, V v, int cnt) { _mm512_mask_storeu_ps(p, (__mmask16)((1u << cnt) - 1), v); }
/** x where z > 0 (ordered: NaN → 0), else 0. */
static inline V vkeepPos(V z, V x) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ), x); }
/** Adds the 16 floats of v, widened to double, into two f64 accumulators. */
static inline void vaccF64(V v, __m512d& lo, __m512d& hi) {
  lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
  hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}
static inline void vaccSqF64(V v, __m512d& lo, __m512d& hi) {
  __m512d a = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
  __m512d b = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  lo = _mm512_add_pd(lo, _mm512_mul_pd(a, a));
  hi = _mm512_add_pd(hi, _mm512_mul_pd(b, b));
}
typedef __m512d VD;
static inline VD vdzero() { return _mm512_setzero_pd(); }
static inline double vdsum(VD a) {
  alignas(64) double t[8];
  _mm512_store_pd(t, a);
  return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
}
static inline VD vdadd(VD a, VD b) { return _mm512_add_pd(a, b); }
#define TSNN_TABLE_FN avx512Table
#define TSNN_ISA_NAME "avx512"
#elif defined(TSNN_AVX2)
typedef __m256 V;
constexpr int W = 8;
constexpr int MR = 6;
alignas(32) static const int32_t kMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static inline __m256i maskOf(int cnt) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMask + 8 - cnt)); }
static inline V vload(const float* p) { return _mm256_loadu_ps(p); }
static inline void vstore(float* p, V v) { _mm256_storeu_ps(p, v); }
static inline V vzero() { return _mm256_setzero_ps(); }
static inline V vset1(float x) { return _mm256_set1_ps(x); }
static inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
static inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
static inline V vsub(V a, V b) { return _mm256_sub_ps(a, b); }
static inline V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
static inline V vdiv(V a, V b) { return _mm256_div_ps(a, b); }
static inline V vsqrt(V a) { return _mm256_sqrt_ps(a); }
static inline V vloadn(const float* p, int cnt) { return _mm256_maskload_ps(p, maskOf(cnt)); }
static inline void vstoren(float* p, V v, int cnt) { _mm256_maskstore_ps(p, maskOf(cnt), v); }
static inline V vkeepPos(V z, V x) { return _mm256_and_ps(_mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ), x); }
static inline void vaccF64(V v, __m256d& lo, __m256d& hi) {
  lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}
static inline void vaccSqF64(V v, __m256d& lo, __m256d& hi) {
  __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
  __m256d b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
  lo = _mm256_add_pd(lo, _mm256_mul_pd(a, a));
  hi = _mm256_add_pd(hi, _mm256_mul_pd(b, b));
}
typedef __m256d VD;
static inline VD vdzero() { return _mm256_setzero_pd(); }
static inline double vdsum(VD a) {
  alignas(32) double t[4];
  _mm256_store_pd(t, a);
  return (t[0] + t[1]) + (t[2] + t[3]);
}
static inline VD vdadd(VD a, VD b) { return _mm256_add_pd(a, b); }
#define TSNN_TABLE_FN avx2Table
#define TSNN_ISA_NAME "avx2"
#else
#error "define TSNN_AVX512 or TSNN_AVX2"
#endif

constexpr int NR = 2 * W;
constexpr long KC = 256;
constexpr long MC = MR * 16;
constexpr long NC = 512;
/** Products with at most this many multiply-adds read A and B in place (packing would cost as much as it saves). */
constexpr long DIRECT_MAX_FMA = 200000;

/**
 * MR×NR register tile: C[r][0..nr) (+)= Σ_p a(r,p)·b(p,·) over kc steps. Packed A: a[p*MR + r];
 * in place: a[r*ars + p*aps]. Packed B: b[p*NR + j]; in place: b[p*bps + j] (full panels only).
 */
template <bool PA, bool PB>
static inline void micro(long kc, const float* __restrict a, long ars, long aps, const float* __restrict b, long bps,
                         float* __restrict c, long ldc, int mr, int nr, bool loadc) {
  V c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++) c0[r] = c1[r] = vzero();
  for (long p = 0; p < kc; p++) {
    const V b0 = vload(b), b1 = vload(b + W);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      const V av = vset1(PA ? a[r] : a[r * ars]);
      c0[r] = vfma(av, b0, c0[r]);
      c1[r] = vfma(av, b1, c1[r]);
    }
    a += PA ? MR : aps;
    b += PB ? NR : bps;
  }
  if (nr == NR) {
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      if (r >= mr) break;
      float* cr = c + r * ldc;
      if (loadc) {
        vstore(cr, vadd(vload(cr), c0[r]));
        vstore(cr + W, vadd(vload(cr + W), c1[r]));
      } else {
        vstore(cr, c0[r]);
        vstore(cr + W, c1[r]);
      }
    }
  } else {
    const int n0 = nr < W ? nr : W, n1 = nr - n0;
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      if (r >= mr) break;
      float* cr = c + r * ldc;
      if (loadc) {
        vstoren(cr, vadd(vloadn(cr, n0), c0[r]), n0);
        if (n1 > 0) vstoren(cr + W, vadd(vloadn(cr + W, n1), c1[r]), n1);
      } else {
        vstoren(cr, c0[r], n0);
        if (n1 > 0) vstoren(cr + W, c1[r], n1);
      }
    }
  }
}

/** One kc × NR panel of op(B) (columns j.., cnt ≤ NR of them) into dst, zero-padded. */
static inline void packBPanel(const GemmArgs& g, long pc, long kc, long j, int cnt, float* __restrict dst) {
  if (g.bjs == 1) {
    const float* src = g.B + pc * g.bps + j;
    if (cnt == NR) {
      for (long p = 0; p < kc; p++, src += g.bps, dst += NR) {
        vstore(dst, vload(src));
        vstore(dst + W, vload(src + W));
      }
    } else {
      const int n0 = cnt < W ? cnt : W, n1 = cnt - n0;
      for (long p = 0; p < kc; p++, src += g.bps, dst += NR) {
        vstore(dst, vloadn(src, n0));
        vstore(dst + W, n1 > 0 ? vloadn(src + W, n1) : vzero());
      }
    }
  } else {
    // op(B) = Bᵀ: column j of op(B) is a contiguous row of B when bps == 1.
    if (cnt < NR) std::memset(dst, 0, sizeof(float) * kc * NR);
    for (int jj = 0; jj < cnt; jj++) {
      const float* src = g.B + (j + jj) * g.bjs + pc * g.bps;
      float* d = dst + jj;
      if (g.bps == 1) {
        for (long p = 0; p < kc; p++) d[p * NR] = src[p];
      } else {
        for (long p = 0; p < kc; p++) d[p * NR] = src[p * g.bps];
      }
    }
  }
}

/** One kc × MR panel of op(A) (rows i.., cnt ≤ MR of them) into dst as dst[p*MR + r], zero-padded. */
static inline void packAPanel(const GemmArgs& g, long i, int cnt, long pc, long kc, float* __restrict dst) {
  if (g.ars == 1) {
    // Aᵀ·B: for a fixed p the MR rows are contiguous.
    const float* src = g.A + pc * g.aps + i;
    for (long p = 0; p < kc; p++, src += g.aps, dst += MR) {
      int r = 0;
      for (; r < cnt; r++) dst[r] = src[r];
      for (; r < MR; r++) dst[r] = 0.0f;
    }
  } else {
    if (cnt < MR) std::memset(dst, 0, sizeof(float) * kc * MR);
    for (int r = 0; r < cnt; r++) {
      const float* src = g.A + (i + r) * g.ars + pc * g.aps;
      float* d = dst + r;
      if (g.aps == 1) {
        for (long p = 0; p < kc; p++) d[p * MR] = src[p];
      } else {
        for (long p = 0; p < kc; p++) d[p * MR] = src[p * g.aps];
      }
    }
  }
}

static void gemmPart(const GemmArgs& g, long i0, long i1, long j0, long j1, Workspace& ws) {
  const long k = g.k;
  if (i1 <= i0 || j1 <= j0) return;
  if (k == 0) {
    if (!g.acc)
      for (long i = i0; i < i1; i++) std::memset(g.C + i * g.ldc + j0, 0, sizeof(float) * (j1 - j0));
    return;
  }
  const bool small = (i1 - i0) * (j1 - j0) * k <= DIRECT_MAX_FMA;
  const bool directB = small && g.bjs == 1;
  const bool directA = small;
  for (long jc = j0; jc < j1; jc += NC) {
    const long nc = j1 - jc < NC ? j1 - jc : NC;
    for (long pc = 0; pc < k; pc += KC) {
      const long kc = k - pc < KC ? k - pc : KC;
      const bool loadc = g.acc || pc > 0;
      if (!directB)
        for (long q = 0; q * NR < nc; q++) {
          const long cnt = nc - q * NR < NR ? nc - q * NR : NR;
          packBPanel(g, pc, kc, jc + q * NR, (int)cnt, ws.b + q * kc * NR);
        }
      for (long ic = i0; ic < i1; ic += MC) {
        const long mc = i1 - ic < MC ? i1 - ic : MC;
        if (!directA)
          for (long q = 0; q * MR < mc; q++) {
            const long cnt = mc - q * MR < MR ? mc - q * MR : MR;
            packAPanel(g, ic + q * MR, (int)cnt, pc, kc, ws.a + q * kc * MR);
          }
        for (long jr = 0; jr < nc; jr += NR) {
          const int nr = (int)(nc - jr < NR ? nc - jr : NR);
          const float* bp;
          bool pb = true;
          if (!directB) bp = ws.b + (jr / NR) * kc * NR;
          else if (nr == NR) {
            bp = g.B + pc * g.bps + (jc + jr);
            pb = false;
          } else {
            packBPanel(g, pc, kc, jc + jr, nr, ws.b);
            bp = ws.b;
          }
          for (long ir = 0; ir < mc; ir += MR) {
            const int mr = (int)(mc - ir < MR ? mc - ir : MR);
            float* c = g.C + (ic + ir) * g.ldc + (jc + jr);
            const float* ap;
            bool pa = true;
            if (!directA) ap = ws.a + (ir / MR) * kc * MR;
            else if (mr == MR) {
              ap = g.A + (ic + ir) * g.ars + pc * g.aps;
              pa = false;
            } else {
              packAPanel(g, ic + ir, mr, pc, kc, ws.a);
              ap = ws.a;
            }
            if (pa) {
              if (pb) micro<true, true>(kc, ap, 0, 0, bp, 0, c, g.ldc, mr, nr, loadc);
              else micro<true, false>(kc, ap, 0, 0, bp, g.bps, c, g.ldc, mr, nr, loadc);
            } else {
              if (pb) micro<false, true>(kc, ap, g.ars, g.aps, bp, 0, c, g.ldc, mr, nr, loadc);
              else micro<false, false>(kc, ap, g.ars, g.aps, bp, g.bps, c, g.ldc, mr, nr, loadc);
            }
          }
        }
      }
    }
  }
}

// ---- fused element-wise kernels (semantics: src/core/kernels/wasm/ops-wat.ts) ----

static void biasAct(long m, long n, float* z, const float* b, float* a, int relu) {
  for (long r = 0; r < m; r++, z += n, a += n) {
    long j = 0;
    for (; j + W <= n; j += W) {
      const V v = vadd(vload(z + j), vload(b + j));
      vstore(z + j, v);
      vstore(a + j, relu ? vkeepPos(v, v) : v);
    }
    for (; j < n; j++) {
      const float s = z[j] + b[j];
      z[j] = s;
      a[j] = relu ? (s > 0.0f ? s : 0.0f) : s;
    }
  }
}

static void reluMask(long n, const float* z, float* d) {
  long i = 0;
  for (; i + W <= n; i += W) vstore(d + i, vkeepPos(vload(z + i), vload(d + i)));
  for (; i < n; i++)
    if (!(z[i] > 0.0f)) d[i] = 0.0f;
}

static void colSums(long m, long n, const float* d, float* db) {
  long j = 0;
  for (; j + 4 * W <= n; j += 4 * W) {
    V s0 = vzero(), s1 = vzero(), s2 = vzero(), s3 = vzero();
    const float* p = d + j;
    for (long r = 0; r < m; r++, p += n) {
      s0 = vadd(s0, vload(p));
      s1 = vadd(s1, vload(p + W));
      s2 = vadd(s2, vload(p + 2 * W));
      s3 = vadd(s3, vload(p + 3 * W));
    }
    vstore(db + j, s0);
    vstore(db + j + W, s1);
    vstore(db + j + 2 * W, s2);
    vstore(db + j + 3 * W, s3);
  }
  for (; j + W <= n; j += W) {
    V s0 = vzero();
    const float* p = d + j;
    for (long r = 0; r < m; r++, p += n) s0 = vadd(s0, vload(p));
    vstore(db + j, s0);
  }
  for (; j < n; j++) {
    float s = 0.0f;
    for (long r = 0; r < m; r++) s += d[r * n + j];
    db[j] = s;
  }
}

template <bool SQ>
static double sumF64T(long n, const float* x) {
  VD a0 = vdzero(), a1 = vdzero(), a2 = vdzero(), a3 = vdzero();
  long i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    if (SQ) {
      vaccSqF64(vload(x + i), a0, a1);
      vaccSqF64(vload(x + i + W), a2, a3);
    } else {
      vaccF64(vload(x + i), a0, a1);
      vaccF64(vload(x + i + W), a2, a3);
    }
  }
  double s = 0;
  for (; i < n; i++) {
    const double t = x[i];
    s += SQ ? t * t : t;
  }
  return s + vdsum(vdadd(vdadd(a0, a2), vdadd(a1, a3)));
}
static double sumF64(long n, const float* x) { return sumF64T<false>(n, x); }
static double sumSqF64(long n, const float* x) { return sumF64T<true>(n, x); }

static void adam(long n, float* w, const float* g, float* m, float* v, float b1, float b2, float eps, float lr, float c1, float c2,
                 float l2, float shrink) {
  const float lrc = lr / c1, rc2 = 1.0f / c2, d1 = 1.0f - b1, d2 = 1.0f - b2;
  const V B1 = vset1(b1), B2 = vset1(b2), D1 = vset1(d1), D2 = vset1(d2), E = vset1(eps), LR = vset1(lrc), C2 = vset1(rc2),
          L2 = vset1(l2), SH = vset1(shrink);
  long i = 0;
  for (; i + W <= n; i += W) {
    const V wv = vload(w + i);
    const V gv = vadd(vload(g + i), vmul(L2, wv));
    const V mv = vadd(vmul(B1, vload(m + i)), vmul(D1, gv));
    const V vv = vadd(vmul(B2, vload(v + i)), vmul(vmul(D2, gv), gv));
    vstore(m + i, mv);
    vstore(v + i, vv);
    vstore(w + i, vsub(vmul(wv, SH), vdiv(vmul(LR, mv), vadd(vsqrt(vmul(vv, C2)), E))));
  }
  for (; i < n; i++) {
    const float ws = w[i];
    const float gs = g[i] + l2 * ws;
    const float ms = b1 * m[i] + d1 * gs;
    const float vs = b2 * v[i] + (d2 * gs) * gs;
    m[i] = ms;
    v[i] = vs;
    w[i] = ws * shrink - (lrc * ms) / (__builtin_sqrtf(vs * rc2) + eps);
  }
}

template <bool NESTEROV>
static void momentumT(long n, float* w, const float* g, float* v, float mu, float gain, float wd, float lr) {
  const V MU = vset1(mu), GA = vset1(gain), WD = vset1(wd), LR = vset1(lr);
  long i = 0;
  for (; i + W <= n; i += W) {
    const V wv = vload(w + i);
    const V gv = vadd(vload(g + i), vmul(WD, wv));
    const V vv = vadd(vmul(MU, vload(v + i)), vmul(GA, gv));
    vstore(v + i, vv);
    vstore(w + i, vsub(wv, vmul(LR, NESTEROV ? vadd(vmul(MU, vv), vmul(GA, gv)) : vv)));
  }
  for (; i < n; i++) {
    const float ws = w[i];
    const float gs = g[i] + wd * ws;
    const float vs = mu * v[i] + gain * gs;
    v[i] = vs;
    w[i] = ws - lr * (NESTEROV ? mu * vs + gain * gs : vs);
  }
}
static void momentum(long n, float* w, const float* g, float* v, float mu, float gain, float wd, float lr, int nesterov) {
  if (nesterov) momentumT<true>(n, w, g, v, mu, gain, wd, lr);
  else momentumT<false>(n, w, g, v, mu, gain, wd, lr);
}

static void gatherRows(long m, long f, const float* src, const uint32_t* idx, float* dst) {
  for (long r = 0; r < m; r++, dst += f) std::memcpy(dst, src + (long)idx[r] * f, sizeof(float) * f);
}

const KernelTable kTable = {
    TSNN_ISA_NAME, MR, NR, (int)KC, (int)MC, (int)NC, gemmPart, biasAct, reluMask, colSums, sumF64, sumSqF64, adam, momentum, gatherRows,
};

}  // namespace

const KernelTable* TSNN_TABLE_FN() { return &kTable; }

}  // namespace tsnn
