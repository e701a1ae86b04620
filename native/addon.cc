// Node-API glue of the native kernels: CPU dispatch, aligned memory for the training buffers,
// and a small thread pool for big products. Compiled without ISA flags: only the code behind
// the table chosen with __builtin_cpu_supports runs AVX-512 or AVX2 instructions.
//
// Calling convention (cheap on purpose: a W2 step makes ~40 calls): the JS side writes the
// arguments (element counts, strides, byte addresses as doubles) into a Float64Array shared with
// this module (`args()`), then calls a function with no arguments; results come back in args[0].
#include <napi.h>
#include <sys/mman.h>
#include <immintrin.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>
#include "kernels.h"

namespace tsnn {
namespace {

constexpr int kArgs = 32;
/** Slot of the table id (0 = avx512, 1 = avx2) every call reads. */
constexpr int kIsaSlot = 31;
constexpr size_t kMmapMin = 1 << 20;
/** How long an idle helper spins for the next product before it sleeps (a W1 step is ~1 ms). */
constexpr auto kSpin = std::chrono::microseconds(100);
/** Chunks of a split product per thread: a helper the OS does not schedule just takes fewer. */
constexpr int kChunksPerThread = 2;

const KernelTable* tableFor(int id) {
  if (id == 0) return (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) ? avx512Table() : nullptr;
  if (id == 1) return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? avx2Table() : nullptr;
  return nullptr;
}

void* allocWorkspace(size_t floats) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, floats * sizeof(float) + 64) != 0) return nullptr;
  return p;
}

/**
 * Helpers for big products. A product is cut into chunks (bands of rows when B packs with plain
 * vector copies, else bands of columns) that the caller and the helpers claim from a shared
 * counter, so a helper the OS does not schedule (a busy machine) only takes fewer chunks. Each
 * chunk is a rectangle of C computed over the whole k: the sums do not depend on who ran what.
 */
class Pool {
 public:
  ~Pool() { resize(0); for (auto& w : ws_) { free(w.a); free(w.b); } }

  /** Threads per product from now on (this one included); helpers are started on demand. */
  void setActive(int n) {
    if (n < 1) n = 1;
    if (n > 64) n = 64;
    ensureWorkspaces(n);
    if ((int)helpers_.size() < n - 1) resize(n - 1);
    active_.store(n);
  }
  int active() const { return active_.load(); }

  Workspace& ws0() {
    ensureWorkspaces(1);
    return ws_[0];
  }

  /** Runs g on `parts` threads (the caller included), chunk by chunk, waiting for all chunks. */
  void run(const KernelTable* t, const GemmArgs& g, int parts) {
    // The ticket (generation << 32 | next chunk) is closed before the fields change, so a late
    // helper still holding the previous generation can never claim a chunk of this product.
    const uint32_t gen = gen_.load() + 1;
    ticket_.store((uint64_t)gen << 32 | 0xFFFFFFFFu);
    table_ = t;
    args_ = g;
    parts_ = parts;
    // Rows when B packs with vector copies (each chunk packs all of B, cheaply), else columns.
    const long P = (g.n + t->nr - 1) / t->nr, R = (g.m + t->mr - 1) / t->mr;
    byCols_ = g.bjs != 1 ? P >= 2 : R < 2;
    units_ = byCols_ ? P : R;
    chunks_ = (int)std::min<long>(units_, (long)parts * kChunksPerThread);
    done_.store(0);
    ticket_.store((uint64_t)gen << 32);
    gen_.store(gen);
    if (sleeping_.load() > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
    work(0, gen);
    while (done_.load(std::memory_order_acquire) < chunks_) _mm_pause();
  }

 private:
  void ensureWorkspaces(int n) {
    // Sized for the largest blocks of any table, once: no allocation inside a product.
    const KernelTable* ts[2] = {avx512Table(), avx2Table()};
    size_t a = 0, b = 0;
    for (auto* t : ts) {
      size_t mc = (size_t)((t->mc + t->mr - 1) / t->mr) * t->mr, nc = (size_t)((t->nc + t->nr - 1) / t->nr) * t->nr;
      a = std::max(a, mc * t->kc);
      b = std::max(b, nc * t->kc);
    }
    while ((int)ws_.size() < n) {
      Workspace w;
      w.a = static_cast<float*>(allocWorkspace(a));
      w.b = static_cast<float*>(allocWorkspace(b));
      w.aFloats = a;
      w.bFloats = b;
      ws_.push_back(w);
    }
  }

  /** Claims and computes chunks until none is left (thread `idx` uses workspace `idx`). */
  void work(int idx, uint32_t gen) {
    const GemmArgs g = args_;
    const KernelTable* t = table_;
    const long C = chunks_, units = units_;
    const bool byCols = byCols_;
    for (;;) {
      uint64_t cur = ticket_.load(std::memory_order_acquire);
      long c;
      for (;;) {
        if ((uint32_t)(cur >> 32) != gen || (long)(uint32_t)cur >= C) return;
        if (ticket_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel)) {
          c = (long)(uint32_t)cur;
          break;
        }
      }
      const long u0 = units * c / C, u1 = units * (c + 1) / C;
      if (byCols) t->gemmPart(g, 0, g.m, u0 * t->nr, std::min(g.n, u1 * t->nr), ws_[idx]);
      else t->gemmPart(g, u0 * t->mr, std::min(g.m, u1 * t->mr), 0, g.n, ws_[idx]);
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  void resize(int helpers) {
    if ((int)helpers_.size() > helpers || helpers == 0) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
        gen_.fetch_add(1);
        cv_.notify_all();
      }
      for (auto& th : helpers_) th.join();
      helpers_.clear();
      stop_ = false;
    }
    while ((int)helpers_.size() < helpers) {
      const int idx = (int)helpers_.size() + 1;
      // The generation seen is taken here, before the thread runs: a product started before the
      // new thread is scheduled must still count as new to it.
      const uint32_t seen = gen_.load();
      helpers_.emplace_back([this, idx, seen] { loop(idx, seen); });
    }
  }

  void loop(int idx, uint32_t seen) {
    for (;;) {
      // Spin a little while this helper is in use (the next product is usually ~µs away), then sleep.
      bool got = false;
      if (idx < active_.load()) {
        const auto until = std::chrono::steady_clock::now() + kSpin;
        for (int i = 0;; i++) {
          if (gen_.load(std::memory_order_acquire) != seen) { got = true; break; }
          _mm_pause();
          if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
        }
      }
      if (!got) {
        std::unique_lock<std::mutex> lock(mu_);
        sleeping_.fetch_add(1);
        cv_.wait(lock, [&] { return gen_.load() != seen || stop_; });
        sleeping_.fetch_sub(1);
      }
      if (stop_) return;
      seen = gen_.load();
      if (idx < parts_) work(idx, seen);
    }
  }

  std::vector<std::thread> helpers_;
  std::vector<Workspace> ws_;
  std::atomic<int> active_{1};
  std::atomic<uint32_t> gen_{0};
  std::atomic<uint64_t> ticket_{0xFFFFFFFFu};
  std::atomic<int> done_{0};
  long units_ = 0;
  int chunks_ = 0;
  std::atomic<int> sleeping_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  const KernelTable* table_ = nullptr;
  GemmArgs args_{};
  int parts_ = 1;
  bool byCols_ = true;
};

struct State {
  double* args;
  Pool pool;
  /** Smallest 2·m·n·k split across threads (smaller products do not pay the hand-off). */
  double parallelMinFlops = 4e6;
};

void freeBlock(napi_env, void* data, void* hint) {
  const size_t bytes = reinterpret_cast<size_t>(hint);
  if (bytes >= kMmapMin) munmap(data, bytes);
  else free(data);
}

inline State* state(napi_env env) {
  void* d = nullptr;
  napi_get_instance_data(env, &d);
  return static_cast<State*>(d);
}
template <typename T>
inline T* ptr(double a) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(a));
}

// ---- hot entry points: raw napi callbacks, arguments in State::args ----

napi_value Gemm(napi_env env, napi_callback_info) {
  State* s = state(env);
  const double* a = s->args;
  const KernelTable* t = tableFor((int)a[kIsaSlot]);
  GemmArgs g;
  g.m = (long)a[0]; g.n = (long)a[1]; g.k = (long)a[2];
  g.A = ptr<const float>(a[3]); g.ars = (long)a[4]; g.aps = (long)a[5];
  g.B = ptr<const float>(a[6]); g.bps = (long)a[7]; g.bjs = (long)a[8];
  g.C = ptr<float>(a[9]); g.ldc = g.n; g.acc = a[10] != 0;
  const int threads = s->pool.active();
  const double flops = 2.0 * g.m * g.n * g.k;
  if (threads > 1 && flops >= s->parallelMinFlops && (g.n >= 2 * t->nr || g.m >= 2 * t->mr)) {
    s->pool.run(t, g, threads);
  } else {
    t->gemmPart(g, 0, g.m, 0, g.n, s->pool.ws0());
  }
  return nullptr;
}

napi_value BiasAct(napi_env env, napi_callback_info) {
  const double* a = state(env)->args;
  tableFor((int)a[kIsaSlot])->biasAct((long)a[0], (long)a[1], ptr<float>(a[2]), ptr<const float>(a[3]), ptr<float>(a[4]), (int)a[5]);
  return nullptr;
}
napi_value ReluMask(napi_env env, napi_callback_info) {
  const double* a = state(env)->args;
  tableFor((int)a[kIsaSlot])->reluMask((long)a[0], ptr<const float>(a[1]), ptr<float>(a[2]));
  return nullptr;
}
napi_value ColSums(napi_env env, napi_callback_info) {
  const double* a = state(env)->args;
  tableFor((int)a[kIsaSlot])->colSums((long)a[0], (long)a[1], ptr<const float>(a[2]), ptr<float>(a[3]));
  return nullptr;
}
napi_value SumF64(napi_env env, napi_callback_info) {
  double* a = state(env)->args;
  a[0] = tableFor((int)a[kIsaSlot])->sumF64((long)a[0], ptr<const float>(a[1]));
  return nullptr;
}
napi_value SumSqF64(napi_env env, napi_callback_info) {
  double* a = state(env)->args;
  a[0] = tableFor((int)a[kIsaSlot])->sumSqF64((long)a[0], ptr<const float>(a[1]));
  return nullptr;
}
napi_value Adam(napi_env env, napi_callback_info) {
  const double* a = state(env)->args;
  tableFor((int)a[kIsaSlot])->adam((long)a[0], ptr<float>(a[1]), ptr<const float>(a[2]), ptr<float>(a[3]), ptr<float>(a[4]), (float)a[5],
                                   (float)a[6], (float)a[7], (float)a[8], (float)a[9], (float)a[10], (float)a[11], (float)a[12]);
  return nullptr;
}
napi_value Momentum(napi_env env, napi_callback_info) {
  const double* a = state(env)->args;
  tableFor((int)a[kIsaSlot])->momentum((long)a[0], ptr<float>(a[1]), ptr<const float>(a[2]), ptr<float>(a[3]), (float)a[4], (float)a[5],
                                       (float)a[6], (float)a[7], (int)a[8]);
  return nullptr;
}
napi_value GatherRows(napi_env env, napi_callback_info) {
  const double* a = state(env)->args;
  tableFor((int)a[kIsaSlot])->gatherRows((long)a[0], (long)a[1], ptr<const float>(a[2]), ptr<const uint32_t>(a[3]), ptr<float>(a[4]));
  return nullptr;
}

// ---- setup (node-addon-api) ----

/** ['avx512', 'avx2'] minus what this CPU (and OS) lacks, fastest first. */
Napi::Value Isas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  __builtin_cpu_init();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  if (tableFor(0)) out.Set(i++, Napi::String::New(env, "avx512"));
  if (tableFor(1)) out.Set(i++, Napi::String::New(env, "avx2"));
  return out;
}

/** The Float64Array the hot calls read their arguments from. */
Napi::Value Args(const Napi::CallbackInfo& info) {
  State* s = state(info.Env());
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(info.Env(), s->args, kArgs * sizeof(double));
  return Napi::Float64Array::New(info.Env(), kArgs, ab, 0);
}

/** alloc(bytes): a zeroed, 64-byte aligned ArrayBuffer owned by this module; its address goes to args[0]. */
Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State* s = state(env);
  size_t bytes = (size_t)info[0].As<Napi::Number>().Int64Value();
  if (bytes == 0) bytes = 64;
  void* p = nullptr;
  if (bytes >= kMmapMin) {
    // Fresh anonymous pages are zero and committed only when touched.
    p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) p = nullptr;
  } else if (posix_memalign(&p, 64, bytes) == 0) {
    std::memset(p, 0, bytes);
  } else {
    p = nullptr;
  }
  if (!p) return env.Null();
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, bytes, freeBlock, reinterpret_cast<void*>(bytes), &ab) != napi_ok) {
    freeBlock(env, p, reinterpret_cast<void*>(bytes));
    return env.Null();
  }
  s->args[0] = (double)reinterpret_cast<uintptr_t>(p);
  return Napi::Value(env, ab);
}

/** addressOf(arrayBuffer): the address of its first byte in args[0] (0 when it has none). */
Napi::Value AddressOf(const Napi::CallbackInfo& info) {
  State* s = state(info.Env());
  s->args[0] = 0;
  if (info[0].IsArrayBuffer()) s->args[0] = (double)reinterpret_cast<uintptr_t>(info[0].As<Napi::ArrayBuffer>().Data());
  return info.Env().Undefined();
}

/** setThreads(n, parallelMinFlops?): threads per big product from the next call on. */
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  State* s = state(info.Env());
  s->pool.setActive(info[0].As<Napi::Number>().Int32Value());
  if (info.Length() > 1 && info[1].IsNumber()) s->parallelMinFlops = info[1].As<Napi::Number>().DoubleValue();
  return Napi::Number::New(info.Env(), s->pool.active());
}

void addRaw(Napi::Env env, Napi::Object exports, const char* name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn);
  exports.Set(name, Napi::Value(env, fn));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  State* s = new State();
  s->args = static_cast<double*>(std::calloc(kArgs, sizeof(double)));
  env.SetInstanceData<State>(s);
  exports.Set("isas", Napi::Function::New(env, Isas, "isas"));
  exports.Set("args", Napi::Function::New(env, Args, "args"));
  exports.Set("alloc", Napi::Function::New(env, Alloc, "alloc"));
  exports.Set("addressOf", Napi::Function::New(env, AddressOf, "addressOf"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  addRaw(env, exports, "gemm", Gemm);
  addRaw(env, exports, "biasAct", BiasAct);
  addRaw(env, exports, "reluMask", ReluMask);
  addRaw(env, exports, "colSums", ColSums);
  addRaw(env, exports, "sumF64", SumF64);
  addRaw(env, exports, "sumSqF64", SumSqF64);
  addRaw(env, exports, "adam", Adam);
  addRaw(env, exports, "momentum", Momentum);
  addRaw(env, exports, "gatherRows", GatherRows);
  return exports;
}

}  // namespace
}  // namespace tsnn

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tsnn::Init(env, exports); }
NODE_API_MODULE(tsnn_kernels, InitModule)
