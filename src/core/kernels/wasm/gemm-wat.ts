/*
 * Source of the WebAssembly SIMD kernels, as a generator of WebAssembly text (WAT).
 *
 * The register tile is unrolled by code (MR rows × 8 columns = 2·MR f32x4 accumulators), which
 * is tedious and error-prone by hand; everything else is plain WAT below. `npm run build:wasm`
 * compiles the text with wabt into `gemm-module.generated.ts`; a test fails when that file is
 * stale. This file is the only source of truth for the kernels' code.
 *
 * One entry point covers C = A·B, Aᵀ·B and A·Bᵀ: A is addressed through byte strides
 * (row stride `ars`, reduction stride `aps`), and B through (`bps` along the reduction, `bjs`
 * along the columns). Column panels of B 8 wide are repacked into a contiguous k×8 scratch
 * block (zero-padded past the last column), unless B's rows are already contiguous and the
 * caller allows reading them in place (small B that stays in L1: packing would not pay).
 */

import { OPS_WAT } from './ops-wat.js';

/** Rows of the register tile. 4 rows × 2 vectors = 8 accumulators keeps V8 (16 xmm registers) from spilling. */
export const MR = 4;
/** Columns of the register tile (two f32x4 vectors). */
export const NR = 8;

export interface WatOptions {
  /** Use f32x4.relaxed_madd (fused multiply-add) instead of mul + add. */
  relaxed: boolean;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Multiply-accumulate `acc += x·y` on f32x4 locals. */
function madd(o: WatOptions, acc: string, x: string, y: string): string {
  return o.relaxed
    ? `(local.set ${acc} (f32x4.relaxed_madd (local.get ${x}) (local.get ${y}) (local.get ${acc})))`
    : `(local.set ${acc} (f32x4.add (local.get ${acc}) (f32x4.mul (local.get ${x}) (local.get ${y}))))`;
}

/** Micro-kernel for an R×8 tile of C over the full reduction length k. */
function microKernel(o: WatOptions, rows: number, rowsContiguous = false): string {
  const acc = (r: number, v: number): string => `$c${r}${v}`;
  // rowsContiguous (A's row stride is one float, as in Aᵀ·B): one pointer, rows at immediate offsets
  const rowPtr = (r: number): string => (r === 0 || rowsContiguous ? '$a' : `$a${r}`);
  const rowOff = (r: number): string => (rowsContiguous && r > 0 ? ` offset=${4 * r}` : '');
  const lines: string[] = [];
  lines.push(`(func $k${rowsContiguous ? 't' : ''}${rows} (param $a i32) (param $ars i32) (param $aps i32) (param $b i32) (param $bs i32) (param $k i32) (param $c i32) (param $ldc i32) (param $acc i32)`);
  if (!rowsContiguous) for (let r = 1; r < rows; r++) lines.push(`  (local $a${r} i32)`);
  for (let r = 1; r < rows; r++) lines.push(`  (local $cr${r} i32)`);
  for (const r of range(rows)) lines.push(`  (local ${acc(r, 0)} v128) (local ${acc(r, 1)} v128)`);
  lines.push('  (local $b0 v128) (local $b1 v128) (local $t v128)');
  for (let r = 1; r < rows; r++) {
    if (!rowsContiguous) lines.push(`  (local.set $a${r} (i32.add (local.get ${rowPtr(r - 1)}) (local.get $ars)))`);
    lines.push(`  (local.set $cr${r} (i32.add (local.get ${r === 1 ? '$c' : `$cr${r - 1}`}) (local.get $ldc)))`);
  }
  const cRow = (r: number): string => (r === 0 ? '$c' : `$cr${r}`);
  // v128 locals start at zero, so accumulate=false needs no code.
  lines.push('  (if (local.get $acc) (then');
  for (const r of range(rows)) {
    lines.push(`    (local.set ${acc(r, 0)} (v128.load (local.get ${cRow(r)})))`);
    lines.push(`    (local.set ${acc(r, 1)} (v128.load offset=16 (local.get ${cRow(r)})))`);
  }
  lines.push('  ))');
  lines.push('  (if (local.get $k) (then (loop $p');
  lines.push('    (local.set $b0 (v128.load (local.get $b)))');
  lines.push('    (local.set $b1 (v128.load offset=16 (local.get $b)))');
  for (const r of range(rows)) {
    lines.push(`    (local.set $t (v128.load32_splat${rowOff(r)} (local.get ${rowPtr(r)})))`);
    lines.push(`    ${madd(o, acc(r, 0), '$t', '$b0')}`);
    lines.push(`    ${madd(o, acc(r, 1), '$t', '$b1')}`);
  }
  for (const r of range(rowsContiguous ? 1 : rows)) {
    lines.push(`    (local.set ${rowPtr(r)} (i32.add (local.get ${rowPtr(r)}) (local.get $aps)))`);
  }
  lines.push('    (local.set $b (i32.add (local.get $b) (local.get $bs)))');
  lines.push('    (br_if $p (local.tee $k (i32.sub (local.get $k) (i32.const 1))))');
  lines.push('  )))');
  for (const r of range(rows)) {
    lines.push(`  (v128.store (local.get ${cRow(r)}) (local.get ${acc(r, 0)}))`);
    lines.push(`  (v128.store offset=16 (local.get ${cRow(r)}) (local.get ${acc(r, 1)}))`);
  }
  lines.push(')');
  return lines.join('\n');
}

/** Copies a k×nr block of B (strides in bytes) into a k×8 panel at `dst`, zero-padded. */
const PACK = `
(func $pack (param $b i32) (param $bps i32) (param $bjs i32) (param $k i32) (param $nr i32) (param $dst i32)
  (local $p i32) (local $j i32) (local $bj i32) (local $d i32)
  (if (i32.eqz (local.get $k)) (then (return)))
  ;; contiguous full rows: two vector copies per row
  (if (i32.and (i32.eq (local.get $bjs) (i32.const 4)) (i32.eq (local.get $nr) (i32.const 8))) (then
    (loop $r
      (v128.store (local.get $dst) (v128.load (local.get $b)))
      (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $b)))
      (local.set $b (i32.add (local.get $b) (local.get $bps)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
      (br_if $r (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
    (return)))
  ;; transposed source (B stored n×k, rows contiguous along the reduction) with a full panel:
  ;; move 4 reduction steps × 8 columns per pass through two 4×4 register transposes
  (if (i32.and (i32.eq (local.get $bps) (i32.const 4)) (i32.eq (local.get $nr) (i32.const 8))) (then
    (call $packT8 (local.get $b) (local.get $bjs) (local.get $k) (local.get $dst))
    (return)))
  ;; general case: zero the panel, then copy nr columns element by element
  (local.set $d (local.get $dst))
  (local.set $p (local.get $k))
  (loop $z
    (v128.store (local.get $d) (v128.const i32x4 0 0 0 0))
    (v128.store offset=16 (local.get $d) (v128.const i32x4 0 0 0 0))
    (local.set $d (i32.add (local.get $d) (i32.const 32)))
    (br_if $z (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))
  (local.set $j (i32.const 0))
  (loop $cols
    (local.set $bj (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $bjs))))
    (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $j) (i32.const 2))))
    (local.set $p (local.get $k))
    (loop $rows
      (f32.store (local.get $d) (f32.load (local.get $bj)))
      (local.set $bj (i32.add (local.get $bj) (local.get $bps)))
      (local.set $d (i32.add (local.get $d) (i32.const 32)))
      (br_if $rows (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))
    (br_if $cols (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $nr))))
)
`;

/** 4×4 transpose helpers: rows x0..x3 → columns. */
function transpose4(dst: string[], src: string[]): string[] {
  // t0 = (x0[0], x1[0], x0[1], x1[1]) etc., then combine 64-bit halves
  const [x0, x1, x2, x3] = src;
  return [
    `(local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get ${x0}) (local.get ${x1})))`,
    `(local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get ${x2}) (local.get ${x3})))`,
    `(local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get ${x0}) (local.get ${x1})))`,
    `(local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get ${x2}) (local.get ${x3})))`,
    `(local.set ${dst[0]} (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))`,
    `(local.set ${dst[1]} (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))`,
    `(local.set ${dst[2]} (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))`,
    `(local.set ${dst[3]} (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))`,
  ];
}

/** Packs 8 rows of a row-major n×k matrix (row stride `bjs` bytes) into a k×8 panel. */
function packT8(): string {
  const lines: string[] = [];
  lines.push('(func $packT8 (param $b i32) (param $bjs i32) (param $k i32) (param $dst i32)');
  lines.push('  (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $r4 i32) (local $r5 i32) (local $r6 i32) (local $r7 i32) (local $q i32)');
  lines.push('  (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)');
  lines.push('  (local $y0 v128) (local $y1 v128) (local $y2 v128) (local $y3 v128)');
  for (let r = 1; r < 8; r++) lines.push(`  (local.set $r${r} (i32.add (local.get ${r === 1 ? '$b' : `$r${r - 1}`}) (local.get $bjs)))`);
  const ptr = (r: number): string => (r === 0 ? '$b' : `$r${r}`);
  lines.push('  (local.set $q (i32.shr_u (local.get $k) (i32.const 2)))');
  lines.push('  (if (local.get $q) (then (loop $blk');
  // rows 0-3 → low halves of 4 panel rows; rows 4-7 → high halves
  for (let half = 0; half < 2; half++) {
    const xs = ['$x0', '$x1', '$x2', '$x3'];
    for (let r = 0; r < 4; r++) lines.push(`    (local.set ${xs[r]} (v128.load (local.get ${ptr(half * 4 + r)})))`);
    lines.push(...transpose4(['$y0', '$y1', '$y2', '$y3'], xs).map((l) => `    ${l}`));
    for (let p = 0; p < 4; p++) lines.push(`    (v128.store offset=${p * 32 + half * 16} (local.get $dst) (local.get $y${p}))`);
  }
  for (let r = 0; r < 8; r++) lines.push(`    (local.set ${ptr(r)} (i32.add (local.get ${ptr(r)}) (i32.const 16)))`);
  lines.push('    (local.set $dst (i32.add (local.get $dst) (i32.const 128)))');
  lines.push('    (br_if $blk (local.tee $q (i32.sub (local.get $q) (i32.const 1))))');
  lines.push('  )))');
  // remaining k mod 4 reduction steps, one element per row
  lines.push('  (local.set $q (i32.and (local.get $k) (i32.const 3)))');
  lines.push('  (if (local.get $q) (then (loop $tail');
  for (let r = 0; r < 8; r++) {
    lines.push(`    (f32.store offset=${r * 4} (local.get $dst) (f32.load (local.get ${ptr(r)})))`);
    lines.push(`    (local.set ${ptr(r)} (i32.add (local.get ${ptr(r)}) (i32.const 4)))`);
  }
  lines.push('    (local.set $dst (i32.add (local.get $dst) (i32.const 32)))');
  lines.push('    (br_if $tail (local.tee $q (i32.sub (local.get $q) (i32.const 1))))');
  lines.push('  )))');
  lines.push(')');
  return lines.join('\n');
}

/** Copies an mr×nr block between C (row stride ldc bytes) and the 4×8 tile buffer (row stride 32). */
const TILE_COPY = `
(func $tileIn (param $c i32) (param $ldc i32) (param $mr i32) (param $nr i32) (param $tile i32) (param $acc i32)
  (local $i i32) (local $j i32)
  (v128.store offset=0 (local.get $tile) (v128.const i32x4 0 0 0 0))
  (v128.store offset=16 (local.get $tile) (v128.const i32x4 0 0 0 0))
  (v128.store offset=32 (local.get $tile) (v128.const i32x4 0 0 0 0))
  (v128.store offset=48 (local.get $tile) (v128.const i32x4 0 0 0 0))
  (v128.store offset=64 (local.get $tile) (v128.const i32x4 0 0 0 0))
  (v128.store offset=80 (local.get $tile) (v128.const i32x4 0 0 0 0))
  (v128.store offset=96 (local.get $tile) (v128.const i32x4 0 0 0 0))
  (v128.store offset=112 (local.get $tile) (v128.const i32x4 0 0 0 0))
  (if (i32.eqz (local.get $acc)) (then (return)))
  (loop $rows
    (local.set $j (i32.const 0))
    (loop $cols
      (f32.store (i32.add (local.get $tile) (i32.shl (local.get $j) (i32.const 2)))
        (f32.load (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2)))))
      (br_if $cols (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $nr))))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (local.set $tile (i32.add (local.get $tile) (i32.const 32)))
    (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $mr))))
)
(func $tileOut (param $c i32) (param $ldc i32) (param $mr i32) (param $nr i32) (param $tile i32)
  (local $i i32) (local $j i32)
  (loop $rows
    (local.set $j (i32.const 0))
    (loop $cols
      (f32.store (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2)))
        (f32.load (i32.add (local.get $tile) (i32.shl (local.get $j) (i32.const 2)))))
      (br_if $cols (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $nr))))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (local.set $tile (i32.add (local.get $tile) (i32.const 32)))
    (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $mr))))
)
`;

/** n = 1 (a layer with one output): matrix-vector products; the 4×8 tile would waste 7/8 of its work. */
const GEMV = `
;; C(i) = Σ_p A(i,p)·B(p) with A's rows contiguous (aps = 4) and B contiguous (bps = 4): one dot product per row
(func $gemvRows (param $m i32) (param $k i32) (param $a i32) (param $ars i32) (param $b i32) (param $c i32) (param $acc i32)
  (local $i i32) (local $p i32) (local $k4 i32) (local $v v128) (local $s f32)
  (local.set $k4 (i32.shl (i32.and (local.get $k) (i32.const -4)) (i32.const 2)))
  (block $done (loop $rows
    (br_if $done (i32.ge_u (local.get $i) (local.get $m)))
    (local.set $v (v128.const i32x4 0 0 0 0))
    (local.set $p (i32.const 0))
    (block $vd (loop $vl
      (br_if $vd (i32.ge_u (local.get $p) (local.get $k4)))
      (local.set $v (f32x4.add (local.get $v) (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $p))) (v128.load (i32.add (local.get $b) (local.get $p))))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $vl)))
    (local.set $s (f32.add (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))
    (block $sd (loop $sl
      (br_if $sd (i32.ge_u (local.get $p) (i32.shl (local.get $k) (i32.const 2))))
      (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (i32.add (local.get $a) (local.get $p))) (f32.load (i32.add (local.get $b) (local.get $p))))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $sl)))
    (if (local.get $acc) (then (local.set $s (f32.add (f32.load (local.get $c)) (local.get $s)))))
    (f32.store (local.get $c) (local.get $s))
    (local.set $a (i32.add (local.get $a) (local.get $ars)))
    (local.set $c (i32.add (local.get $c) (i32.const 4)))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $rows)))
)
;; C(i) = Σ_p A(i,p)·B(p) with A's columns contiguous (ars = 4, e.g. Aᵀ·b): four outputs per vector
(func $gemvCols (param $m i32) (param $k i32) (param $a i32) (param $aps i32) (param $b i32) (param $c i32) (param $acc i32)
  (local $i i32) (local $p i32) (local $m4 i32) (local $ap i32) (local $bp i32) (local $v v128) (local $s f32)
  (local.set $m4 (i32.shl (i32.and (local.get $m) (i32.const -4)) (i32.const 2)))
  (block $vd (loop $vl
    (br_if $vd (i32.ge_u (local.get $i) (local.get $m4)))
    (local.set $v (v128.const i32x4 0 0 0 0))
    (if (local.get $acc) (then (local.set $v (v128.load (i32.add (local.get $c) (local.get $i))))))
    (local.set $ap (i32.add (local.get $a) (local.get $i)))
    (local.set $bp (local.get $b))
    (local.set $p (local.get $k))
    (block $pd (loop $pl
      (br_if $pd (i32.eqz (local.get $p)))
      (local.set $v (f32x4.add (local.get $v) (f32x4.mul (v128.load (local.get $ap)) (v128.load32_splat (local.get $bp)))))
      (local.set $ap (i32.add (local.get $ap) (local.get $aps)))
      (local.set $bp (i32.add (local.get $bp) (i32.const 4)))
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (br $pl)))
    (v128.store (i32.add (local.get $c) (local.get $i)) (local.get $v))
    (local.set $i (i32.add (local.get $i) (i32.const 16)))
    (br $vl)))
  (block $sd (loop $sl
    (br_if $sd (i32.ge_u (local.get $i) (i32.shl (local.get $m) (i32.const 2))))
    (local.set $s (f32.const 0))
    (if (local.get $acc) (then (local.set $s (f32.load (i32.add (local.get $c) (local.get $i))))))
    (local.set $ap (i32.add (local.get $a) (local.get $i)))
    (local.set $bp (local.get $b))
    (local.set $p (local.get $k))
    (block $pd (loop $pl
      (br_if $pd (i32.eqz (local.get $p)))
      (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $ap)) (f32.load (local.get $bp)))))
      (local.set $ap (i32.add (local.get $ap) (local.get $aps)))
      (local.set $bp (i32.add (local.get $bp) (i32.const 4)))
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (br $pl)))
    (f32.store (i32.add (local.get $c) (local.get $i)) (local.get $s))
    (local.set $i (i32.add (local.get $i) (i32.const 4)))
    (br $sl)))
)
`;

/** Calls the R-row micro-kernel for R = mr (1..MR). */
function dispatch(args: string): string {
  const pick = (t: string): string => {
    let s = `(call $k${t}1 ${args})`;
    for (let r = 2; r <= MR; r++) s = `(if (i32.eq (local.get $mr) (i32.const ${r})) (then (call $k${t}${r} ${args})) (else ${s}))`;
    return s;
  };
  return `(if (i32.eq (local.get $ars) (i32.const 4)) (then ${pick('t')}) (else ${pick('')}))`;
}

const GEMM = (): string => `
;; C(m×n at $c, row stride $ldcIn bytes) = Σ_p A(i,p)·B(p,j) (+ C when $acc).
;; A(i,p) at $a + i·$ars + p·$aps; B(p,j) at $b + p·$bps + j·$bjs (all in bytes).
;; $scratch: 128-byte tile buffer followed by a k×8 panel (32·k bytes).
;; $direct ≠ 0 lets full panels of a row-contiguous B ($bjs = 4) be read in place.
(func (export "gemm") (param $m i32) (param $n i32) (param $k i32)
    (param $a i32) (param $ars i32) (param $aps i32)
    (param $b i32) (param $bps i32) (param $bjs i32)
    (param $c i32) (param $acc i32) (param $scratch i32) (param $direct i32) (param $ldcIn i32)
  (local $j0 i32) (local $nr i32) (local $bp i32) (local $bs i32) (local $i0 i32) (local $mr i32)
  (local $ldc i32) (local $panel i32) (local $ap i32) (local $cp i32)
  (if (i32.or (i32.eqz (local.get $m)) (i32.eqz (local.get $n))) (then (return)))
  (if (i32.and (i32.and (i32.eq (local.get $n) (i32.const 1)) (i32.eq (local.get $ldcIn) (i32.const 4))) (i32.eq (local.get $bps) (i32.const 4))) (then
    (if (i32.eq (local.get $aps) (i32.const 4)) (then
      (call $gemvRows (local.get $m) (local.get $k) (local.get $a) (local.get $ars) (local.get $b) (local.get $c) (local.get $acc))
      (return)))
    (if (i32.eq (local.get $ars) (i32.const 4)) (then
      (call $gemvCols (local.get $m) (local.get $k) (local.get $a) (local.get $aps) (local.get $b) (local.get $c) (local.get $acc))
      (return)))))
  (local.set $ldc (local.get $ldcIn))
  (local.set $panel (i32.add (local.get $scratch) (i32.const 128)))
  (loop $cols
    (local.set $nr (i32.sub (local.get $n) (local.get $j0)))
    (if (i32.gt_u (local.get $nr) (i32.const 8)) (then (local.set $nr (i32.const 8))))
    (if (i32.and (local.get $direct) (i32.and (i32.eq (local.get $bjs) (i32.const 4)) (i32.eq (local.get $nr) (i32.const 8))))
      (then
        (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j0) (i32.const 2))))
        (local.set $bs (local.get $bps)))
      (else
        (call $pack (i32.add (local.get $b) (i32.mul (local.get $j0) (local.get $bjs))) (local.get $bps) (local.get $bjs)
          (local.get $k) (local.get $nr) (local.get $panel))
        (local.set $bp (local.get $panel))
        (local.set $bs (i32.const 32))))
    (local.set $i0 (i32.const 0))
    (local.set $ap (local.get $a))
    (local.set $cp (i32.add (local.get $c) (i32.shl (local.get $j0) (i32.const 2))))
    (loop $rows
      (local.set $mr (i32.sub (local.get $m) (local.get $i0)))
      (if (i32.gt_u (local.get $mr) (i32.const ${MR})) (then (local.set $mr (i32.const ${MR}))))
      (if (i32.eq (local.get $nr) (i32.const 8))
        (then
          ${dispatch('(local.get $ap) (local.get $ars) (local.get $aps) (local.get $bp) (local.get $bs) (local.get $k) (local.get $cp) (local.get $ldc) (local.get $acc)')})
        (else
          (call $tileIn (local.get $cp) (local.get $ldc) (local.get $mr) (local.get $nr) (local.get $scratch) (local.get $acc))
          ${dispatch('(local.get $ap) (local.get $ars) (local.get $aps) (local.get $bp) (local.get $bs) (local.get $k) (local.get $scratch) (i32.const 32) (i32.const 1)')}
          (call $tileOut (local.get $cp) (local.get $ldc) (local.get $mr) (local.get $nr) (local.get $scratch))))
      (local.set $ap (i32.add (local.get $ap) (i32.mul (local.get $ars) (i32.const ${MR}))))
      (local.set $cp (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const ${MR}))))
      (br_if $rows (i32.lt_u (local.tee $i0 (i32.add (local.get $i0) (i32.const ${MR}))) (local.get $m))))
    (br_if $cols (i32.lt_u (local.tee $j0 (i32.add (local.get $j0) (i32.const 8))) (local.get $n))))
)
`;

/** The whole module's text (matmul plus the fused elementwise kernels of ops-wat.ts). Memory is imported (shared) so JavaScript owns its lifetime. */
export function gemmWat(o: WatOptions): string {
  return [
    `;; generated by src/core/kernels/wasm/gemm-wat.ts (relaxed=${o.relaxed}); edit the generator, not this text`,
    '(module',
    '(import "env" "memory" (memory 1 65536 shared))',
    PACK,
    packT8(),
    TILE_COPY,
    GEMV,
    ...range(MR).map((r) => microKernel(o, r + 1)),
    ...range(MR).map((r) => microKernel(o, r + 1, true)),
    GEMM(),
    OPS_WAT,
    ')',
  ].join('\n');
}
