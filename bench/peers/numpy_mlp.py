"""numpy peer of bench/core.ts: the same MLP, loss, optimizer and data bytes, float32, one thread.

Usage: python3 numpy_mlp.py DATA_FILE JSON_CONFIG
Prints one JSON line: per-epoch samples/s, peak RSS, and the BLAS that ran.
Set OPENBLAS_NUM_THREADS before starting it (the parent does).
"""
import json
import resource
import sys
import time

import numpy as np


def openblas_info():
    import ctypes
    import glob
    import os

    for lib in glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "libscipy_openblas*.so")):
        try:
            so = ctypes.CDLL(lib)
            for prefix in ("scipy_openblas_", "openblas_"):
                for suffix in ("64_", ""):
                    name, threads = getattr(so, prefix + "get_corename" + suffix, None), getattr(so, prefix + "get_num_threads" + suffix, None)
                    if name is not None:
                        name.restype = ctypes.c_char_p
                        return {"internal_api": "openblas", "architecture": name().decode(), "num_threads": threads() if threads else None}
        except OSError:
            pass
    return "unknown"


def main():
    path, cfg = sys.argv[1], json.loads(sys.argv[2])
    rows, feats, layers = cfg["rows"], cfg["features"], cfg["layers"]
    raw = np.fromfile(path, dtype="<f4")
    X = raw[: rows * feats].reshape(rows, feats)
    y = raw[rows * feats : rows * feats + rows]
    test_rows = cfg.get("testRows") or 0
    Xt = yt = None
    if test_rows:
        at = rows * feats + rows
        Xt = raw[at : at + test_rows * feats].reshape(test_rows, feats)
        yt = raw[at + test_rows * feats : at + test_rows * feats + test_rows]
    use = cfg.get("useRows", rows)
    X, y = X[:use], y[:use]
    classification = cfg["task"] == "classification"
    if classification:
        Y = np.eye(layers[-1], dtype=np.float32)[y.astype(np.int64)]
    else:
        Y = y.reshape(-1, 1).astype(np.float32)

    rng = np.random.default_rng(0)
    sizes = [feats] + layers
    W = [(rng.standard_normal((sizes[i], sizes[i + 1])) * np.sqrt(2.0 / sizes[i])).astype(np.float32) for i in range(len(layers))]
    b = [np.zeros(sizes[i + 1], dtype=np.float32) for i in range(len(layers))]
    params = W + b
    opt = cfg["optimizer"]
    lr = np.float32(opt["learningRate"])
    slots1 = [np.zeros_like(p) for p in params]
    slots2 = [np.zeros_like(p) for p in params]
    tmp1 = [np.zeros_like(p) for p in params]
    tmp2 = [np.zeros_like(p) for p in params]
    B1, B2, EPS = np.float32(0.9), np.float32(0.999), np.float32(1e-8)
    mu = np.float32(opt.get("momentum", 0.9))
    t = 0
    n, batch, L = X.shape[0], cfg["batch"], len(layers)

    def step(xb, yb):
        nonlocal t
        m = xb.shape[0]
        Zs, As = [], [xb]
        a = xb
        for l in range(L):
            z = a @ W[l] + b[l]
            Zs.append(z)
            if l < L - 1:
                a = np.maximum(z, 0)
            elif classification:
                e = np.exp(z - z.max(axis=1, keepdims=True))
                a = e / e.sum(axis=1, keepdims=True)
            else:
                a = z
            As.append(a)
        if classification:
            loss = -np.log(np.maximum((As[-1] * yb).sum(axis=1), 1e-30)).mean()
            d = (As[-1] - yb) / np.float32(m)
        else:
            diff = As[-1] - yb
            loss = (diff * diff).mean()
            d = diff * np.float32(2.0 / diff.size)
        gW, gb = [None] * L, [None] * L
        for l in range(L - 1, -1, -1):
            gW[l] = As[l].T @ d
            gb[l] = d.sum(axis=0)
            if l > 0:
                d = (d @ W[l].T) * (Zs[l - 1] > 0)
        grads = gW + gb
        t += 1
        # in place, into preallocated scratch: no temporaries per parameter tensor
        if opt["type"] == "adam":
            c1 = 1 - 0.9**t
            c2 = 1 - 0.999**t
            for p, g, m1, v, t1, t2 in zip(params, grads, slots1, slots2, tmp1, tmp2):
                np.multiply(g, 1 - B1, out=t1)
                m1 *= B1
                m1 += t1
                np.multiply(g, g, out=t1)
                t1 *= 1 - B2
                v *= B2
                v += t1
                np.multiply(v, np.float32(1 / c2), out=t1)
                np.sqrt(t1, out=t1)
                t1 += EPS
                np.multiply(m1, np.float32(lr / c1), out=t2)
                t2 /= t1
                p -= t2
        else:
            for p, g, v, t1 in zip(params, grads, slots1, tmp1):
                v *= mu
                v += g
                np.multiply(v, lr, out=t1)
                p -= t1
        return loss

    rates, losses, cpu_rates = [], [], []
    for epoch in range(cfg["epochs"]):
        t0 = time.perf_counter()
        c0 = time.process_time()
        perm = rng.permutation(n)
        total = 0.0
        for s in range(0, n, batch):
            idx = perm[s : s + batch]
            total += float(step(X[idx], Y[idx])) * len(idx)
        dt = time.perf_counter() - t0
        rates.append(n / dt)
        cpu_rates.append(n / (time.process_time() - c0))
        losses.append(total / n)

    test_accuracy = None
    if Xt is not None:
        a = Xt
        for l in range(L):
            z = a @ W[l] + b[l]
            a = np.maximum(z, 0) if l < L - 1 else z
        test_accuracy = float((a.argmax(axis=1) == yt.astype(np.int64)).mean())

    blas = None
    try:
        from threadpoolctl import threadpool_info

        blas = [{k: i.get(k) for k in ("internal_api", "num_threads", "architecture", "version")} for i in threadpool_info()]
    except Exception:  # threadpoolctl is optional: ask the bundled OpenBLAS directly
        blas = openblas_info()
    print(json.dumps({"testAccuracy": test_accuracy, "cpuRates": cpu_rates, "rates": rates, "losses": losses, "maxRssKb": peak_rss_kb(), "numpy": np.__version__, "blas": blas}))


def peak_rss_kb():
    """VmHWM: this program's own peak RSS (ru_maxrss survives fork + exec on Linux, so it can be the parent's)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    main()
