/*
 * WAT of the fused elementwise kernels (the training loop's non-matmul work, which dominates
 * small networks like W2 in JavaScript at ~1 ns per element). Pointers are byte addresses,
 * counts are elements. Each loop runs f32x4 vectors then a scalar tail.
 *
 * Semantics follow the TypeScript reference exactly where the reference works in float32
 * (bias add, ReLU, ReLU mask, column sums: bit-identical); sums of squares accumulate in
 * float64 like the reference, in two lanes; the optimizer updates run in float32 (the
 * reference computes in float64 and rounds once), so they agree to float32 tolerance.
 */

/**
 * A loop over `$n` elements at byte offset `$i`: `vec` handles 4 elements at $i (its vector
 * loads/stores write `%O%` where an immediate offset goes), `scalar` one. Four vectors per
 * iteration (immediate offsets 0/16/32/48) halve the loop's integer overhead, then single
 * vectors, then scalars.
 */
function elementLoop(vec: string | ((copy: number) => string), scalar: string): string {
  const v = (off: number): string => (typeof vec === 'string' ? vec : vec(off / 16)).replaceAll('%O%', off ? ` offset=${off}` : '');
  return `
  (local.set $end4 (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
  (local.set $end (i32.shl (local.get $n) (i32.const 2)))
  (local.set $i (i32.const 0))
  (block $ud (loop $ul
    (br_if $ud (i32.gt_u (i32.add (local.get $i) (i32.const 64)) (local.get $end4)))
    ${v(0)}
    ${v(16)}
    ${v(32)}
    ${v(48)}
    (local.set $i (i32.add (local.get $i) (i32.const 64)))
    (br $ul)))
  (block $vd (loop $vl
    (br_if $vd (i32.ge_u (local.get $i) (local.get $end4)))
    ${v(0)}
    (local.set $i (i32.add (local.get $i) (i32.const 16)))
    (br $vl)))
  (block $sd (loop $sl
    (br_if $sd (i32.ge_u (local.get $i) (local.get $end)))
    ${scalar}
    (local.set $i (i32.add (local.get $i) (i32.const 4)))
    (br $sl)))`;
}

const at = (base: string): string => `(i32.add (local.get ${base}) (local.get $i))`;

/** A float64 sum (of squares when `sq`) over n float32 elements. */
function sumF64(name: string, sq: boolean): string {
  const square = (x: string): string => (sq ? `(local.set ${x} (f64x2.mul (local.get ${x}) (local.get ${x})))` : '');
  return `(func (export "${name}") (param $n i32) (param $x i32) (result f64)
  (local $i i32) (local $end i32) (local $end4 i32) (local $lo v128) (local $hi v128)
  (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $s f64) (local $t f64)
  ${elementLoop(
    // odd copies of the unrolled body feed the second pair of accumulators
    // two 64-bit loads instead of a load and a shuffle: the conversions already keep the shuffle port busy
    (copy) => `(local.set $lo (f64x2.promote_low_f32x4 (v128.load64_zero%O% ${at('$x')})))
    (local.set $hi (f64x2.promote_low_f32x4 (v128.load64_zero offset=${copy * 16 + 8} ${at('$x')})))
    ${square('$lo')} ${square('$hi')}
    (local.set ${copy % 2 ? '$a2' : '$a0'} (f64x2.add (local.get ${copy % 2 ? '$a2' : '$a0'}) (local.get $lo)))
    (local.set ${copy % 2 ? '$a3' : '$a1'} (f64x2.add (local.get ${copy % 2 ? '$a3' : '$a1'}) (local.get $hi)))`,
    `(local.set $t (f64.promote_f32 (f32.load ${at('$x')})))
    ${sq ? '(local.set $t (f64.mul (local.get $t) (local.get $t)))' : ''}
    (local.set $s (f64.add (local.get $s) (local.get $t)))`,
  )}
  (local.set $a0 (f64x2.add (f64x2.add (local.get $a0) (local.get $a2)) (f64x2.add (local.get $a1) (local.get $a3))))
  (f64.add (local.get $s) (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0))))
)`;
}

const ELEMENTWISE_WAT = `
;; Z(m×n) += b (broadcast over rows); A = Z (act 0) or A = Z > 0 ? Z : 0 (act 1, NaN → 0 like the reference)
(func (export "bias_act") (param $m i32) (param $n i32) (param $z i32) (param $b i32) (param $a i32) (param $act i32)
  (local $i i32) (local $end i32) (local $end4 i32) (local $r i32) (local $row i32) (local $v v128) (local $s f32)
  (local.set $row (i32.shl (local.get $n) (i32.const 2)))
  (block $done (loop $rows
    (br_if $done (i32.ge_u (local.get $r) (local.get $m)))
    ${elementLoop(
      `(local.set $v (f32x4.add (v128.load%O% ${at('$z')}) (v128.load%O% ${at('$b')})))
    (v128.store%O% ${at('$z')} (local.get $v))
    (if (local.get $act) (then (local.set $v (v128.and (local.get $v) (f32x4.gt (local.get $v) (v128.const f32x4 0 0 0 0))))))
    (v128.store%O% ${at('$a')} (local.get $v))`,
      `(local.set $s (f32.add (f32.load ${at('$z')}) (f32.load ${at('$b')})))
    (f32.store ${at('$z')} (local.get $s))
    (if (i32.and (local.get $act) (i32.eqz (f32.gt (local.get $s) (f32.const 0)))) (then (local.set $s (f32.const 0))))
    (f32.store ${at('$a')} (local.get $s))`,
    )}
    (local.set $z (i32.add (local.get $z) (local.get $row)))
    (local.set $a (i32.add (local.get $a) (local.get $row)))
    (local.set $r (i32.add (local.get $r) (i32.const 1)))
    (br $rows)))
)

;; D = Z > 0 ? D : 0 over n elements (ReLU derivative, NaN in Z → 0 like the reference)
(func (export "relu_mask") (param $n i32) (param $z i32) (param $d i32)
  (local $i i32) (local $end i32) (local $end4 i32)
  ${elementLoop(
    `(v128.store%O% ${at('$d')} (v128.and (v128.load%O% ${at('$d')}) (f32x4.gt (v128.load%O% ${at('$z')}) (v128.const f32x4 0 0 0 0))))`,
    `(if (i32.eqz (f32.gt (f32.load ${at('$z')}) (f32.const 0))) (then (f32.store ${at('$d')} (f32.const 0))))`,
  )}
)

;; db(n) = Σ_r D(r, ·) over m rows, rows added in order (the reference's order: bit-identical)
(func (export "col_sums") (param $m i32) (param $n i32) (param $d i32) (param $db i32)
  (local $row i32) (local $j i32) (local $p i32) (local $r i32) (local $end16 i32) (local $end4 i32) (local $end i32)
  (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $s f32)
  (local.set $row (i32.shl (local.get $n) (i32.const 2)))
  (local.set $end16 (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2)))
  (local.set $end4 (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
  (local.set $end (local.get $row))
  ;; 16 columns per sweep: four independent accumulator chains
  (block $d16 (loop $l16
    (br_if $d16 (i32.ge_u (local.get $j) (local.get $end16)))
    (local.set $s0 (v128.const i32x4 0 0 0 0)) (local.set $s1 (v128.const i32x4 0 0 0 0))
    (local.set $s2 (v128.const i32x4 0 0 0 0)) (local.set $s3 (v128.const i32x4 0 0 0 0))
    (local.set $p (i32.add (local.get $d) (local.get $j)))
    (local.set $r (local.get $m))
    (block $rd (loop $rl
      (br_if $rd (i32.eqz (local.get $r)))
      (local.set $s0 (f32x4.add (local.get $s0) (v128.load offset=0 (local.get $p))))
      (local.set $s1 (f32x4.add (local.get $s1) (v128.load offset=16 (local.get $p))))
      (local.set $s2 (f32x4.add (local.get $s2) (v128.load offset=32 (local.get $p))))
      (local.set $s3 (f32x4.add (local.get $s3) (v128.load offset=48 (local.get $p))))
      (local.set $p (i32.add (local.get $p) (local.get $row)))
      (local.set $r (i32.sub (local.get $r) (i32.const 1)))
      (br $rl)))
    (v128.store offset=0 (i32.add (local.get $db) (local.get $j)) (local.get $s0))
    (v128.store offset=16 (i32.add (local.get $db) (local.get $j)) (local.get $s1))
    (v128.store offset=32 (i32.add (local.get $db) (local.get $j)) (local.get $s2))
    (v128.store offset=48 (i32.add (local.get $db) (local.get $j)) (local.get $s3))
    (local.set $j (i32.add (local.get $j) (i32.const 64)))
    (br $l16)))
  (block $d4 (loop $l4
    (br_if $d4 (i32.ge_u (local.get $j) (local.get $end4)))
    (local.set $s0 (v128.const i32x4 0 0 0 0))
    (local.set $p (i32.add (local.get $d) (local.get $j)))
    (local.set $r (local.get $m))
    (block $rd (loop $rl
      (br_if $rd (i32.eqz (local.get $r)))
      (local.set $s0 (f32x4.add (local.get $s0) (v128.load (local.get $p))))
      (local.set $p (i32.add (local.get $p) (local.get $row)))
      (local.set $r (i32.sub (local.get $r) (i32.const 1)))
      (br $rl)))
    (v128.store (i32.add (local.get $db) (local.get $j)) (local.get $s0))
    (local.set $j (i32.add (local.get $j) (i32.const 16)))
    (br $l4)))
  (block $d1 (loop $l1
    (br_if $d1 (i32.ge_u (local.get $j) (local.get $end)))
    (local.set $s (f32.const 0))
    (local.set $p (i32.add (local.get $d) (local.get $j)))
    (local.set $r (local.get $m))
    (block $rd (loop $rl
      (br_if $rd (i32.eqz (local.get $r)))
      (local.set $s (f32.add (local.get $s) (f32.load (local.get $p))))
      (local.set $p (i32.add (local.get $p) (local.get $row)))
      (local.set $r (i32.sub (local.get $r) (i32.const 1)))
      (br $rl)))
    (f32.store (i32.add (local.get $db) (local.get $j)) (local.get $s))
    (local.set $j (i32.add (local.get $j) (i32.const 4)))
    (br $l1)))
)

;; Σ x² (sum_sq_f64) or Σ x (sum_f64) in float64 (f32 products are exact in f64); non-finite in,
;; non-finite out. Eight float64 lanes in flight (four f64x2 chains) so add latency does not bound the loop.
${sumF64('sum_f64', false)}
${sumF64('sum_sq_f64', true)}
;; Adam over n elements: g' = g + l2·w; m = b1·m + (1−b1)·g'; v = b2·v + (1−b2)·g'²;
;; w = w·shrink − (lr·(m/c1)) / (sqrt(v/c2) + eps), evaluated as ((lr/c1)·m) / (sqrt(v·(1/c2)) + eps)
(func (export "adam") (param $n i32) (param $w i32) (param $g i32) (param $m i32) (param $v i32)
    (param $b1 f32) (param $b2 f32) (param $eps f32) (param $lr f32) (param $c1 f32) (param $c2 f32) (param $l2 f32) (param $shrink f32)
  (local $i i32) (local $end i32) (local $end4 i32)
  (local $B1 v128) (local $B2 v128) (local $D1 v128) (local $D2 v128) (local $E v128) (local $LR v128) (local $C2 v128) (local $L2 v128) (local $SH v128)
  (local $wv v128) (local $gv v128) (local $mv v128) (local $vv v128)
  (local $ws f32) (local $gs f32) (local $ms f32) (local $vs f32) (local $lrc f32) (local $rc2 f32)
  (local.set $B1 (f32x4.splat (local.get $b1))) (local.set $B2 (f32x4.splat (local.get $b2)))
  (local.set $D1 (f32x4.splat (f32.sub (f32.const 1) (local.get $b1)))) (local.set $D2 (f32x4.splat (f32.sub (f32.const 1) (local.get $b2))))
  ;; one division and one square root per element: lr/c1 and 1/c2 are folded once per call
  (local.set $lrc (f32.div (local.get $lr) (local.get $c1))) (local.set $rc2 (f32.div (f32.const 1) (local.get $c2)))
  (local.set $E (f32x4.splat (local.get $eps))) (local.set $LR (f32x4.splat (local.get $lrc)))
  (local.set $C2 (f32x4.splat (local.get $rc2)))
  (local.set $L2 (f32x4.splat (local.get $l2))) (local.set $SH (f32x4.splat (local.get $shrink)))
  ${elementLoop(
    `(local.set $wv (v128.load%O% ${at('$w')}))
    (local.set $gv (f32x4.add (v128.load%O% ${at('$g')}) (f32x4.mul (local.get $L2) (local.get $wv))))
    (local.set $mv (f32x4.add (f32x4.mul (local.get $B1) (v128.load%O% ${at('$m')})) (f32x4.mul (local.get $D1) (local.get $gv))))
    (local.set $vv (f32x4.add (f32x4.mul (local.get $B2) (v128.load%O% ${at('$v')})) (f32x4.mul (f32x4.mul (local.get $D2) (local.get $gv)) (local.get $gv))))
    (v128.store%O% ${at('$m')} (local.get $mv))
    (v128.store%O% ${at('$v')} (local.get $vv))
    (v128.store%O% ${at('$w')} (f32x4.sub (f32x4.mul (local.get $wv) (local.get $SH))
      (f32x4.div (f32x4.mul (local.get $LR) (local.get $mv))
        (f32x4.add (f32x4.sqrt (f32x4.mul (local.get $vv) (local.get $C2))) (local.get $E)))))`,
    `(local.set $ws (f32.load ${at('$w')}))
    (local.set $gs (f32.add (f32.load ${at('$g')}) (f32.mul (local.get $l2) (local.get $ws))))
    (local.set $ms (f32.add (f32.mul (local.get $b1) (f32.load ${at('$m')})) (f32.mul (f32.sub (f32.const 1) (local.get $b1)) (local.get $gs))))
    (local.set $vs (f32.add (f32.mul (local.get $b2) (f32.load ${at('$v')})) (f32.mul (f32.mul (f32.sub (f32.const 1) (local.get $b2)) (local.get $gs)) (local.get $gs))))
    (f32.store ${at('$m')} (local.get $ms))
    (f32.store ${at('$v')} (local.get $vs))
    (f32.store ${at('$w')} (f32.sub (f32.mul (local.get $ws) (local.get $shrink))
      (f32.div (f32.mul (local.get $lrc) (local.get $ms))
        (f32.add (f32.sqrt (f32.mul (local.get $vs) (local.get $rc2))) (local.get $eps)))))`,
  )}
)

`;
/** Momentum's loop body; Nesterov's look-ahead decided at generation time, not per element. */
function momentumLoop(nesterov: boolean): string {
  return elementLoop(
    `(local.set $wv (v128.load%O% ${at('$w')}))
    (local.set $gv (f32x4.add (v128.load%O% ${at('$g')}) (f32x4.mul (local.get $WD) (local.get $wv))))
    (local.set $vv (f32x4.add (f32x4.mul (local.get $MU) (v128.load%O% ${at('$v')})) (f32x4.mul (local.get $GA) (local.get $gv))))
    (v128.store%O% ${at('$v')} (local.get $vv))
    (v128.store%O% ${at('$w')} (f32x4.sub (local.get $wv) (f32x4.mul (local.get $LR) ${
      nesterov ? '(f32x4.add (f32x4.mul (local.get $MU) (local.get $vv)) (f32x4.mul (local.get $GA) (local.get $gv)))' : '(local.get $vv)'
    })))`,
    `(local.set $ws (f32.load ${at('$w')}))
    (local.set $gs (f32.add (f32.load ${at('$g')}) (f32.mul (local.get $wd) (local.get $ws))))
    (local.set $vs (f32.add (f32.mul (local.get $mu) (f32.load ${at('$v')})) (f32.mul (local.get $gain) (local.get $gs))))
    (f32.store ${at('$v')} (local.get $vs))
    (f32.store ${at('$w')} (f32.sub (local.get $ws) (f32.mul (local.get $lr) ${
      nesterov ? '(f32.add (f32.mul (local.get $mu) (local.get $vs)) (f32.mul (local.get $gain) (local.get $gs)))' : '(local.get $vs)'
    })))`,
  );
}

const MOMENTUM_WAT = `
;; Momentum over n elements: g' = g + wd·w; v = mu·v + gain·g'; w −= lr·(nesterov ? mu·v + gain·g' : v)
(func (export "momentum") (param $n i32) (param $w i32) (param $g i32) (param $v i32)
    (param $mu f32) (param $gain f32) (param $wd f32) (param $lr f32) (param $nesterov i32)
  (local $i i32) (local $end i32) (local $end4 i32)
  (local $MU v128) (local $GA v128) (local $WD v128) (local $LR v128)
  (local $wv v128) (local $gv v128) (local $vv v128)
  (local $ws f32) (local $gs f32) (local $vs f32)
  (local.set $MU (f32x4.splat (local.get $mu))) (local.set $GA (f32x4.splat (local.get $gain)))
  (local.set $WD (f32x4.splat (local.get $wd))) (local.set $LR (f32x4.splat (local.get $lr)))
  (if (local.get $nesterov) (then ${momentumLoop(true)}) (else ${momentumLoop(false)}))
)
`;

const GATHER_WAT = `
;; dst row r (width f) = src row idx[r], for r < m; idx: u32 at byte address $idx
(func (export "gather_rows") (param $m i32) (param $f i32) (param $src i32) (param $idx i32) (param $dst i32)
  (local $r i32) (local $s i32) (local $i i32) (local $row i32) (local $end4 i32)
  (local $s1 i32) (local $s2 i32) (local $s3 i32) (local $d1 i32) (local $d2 i32) (local $d3 i32)
  (local.set $row (i32.shl (local.get $f) (i32.const 2)))
  (local.set $end4 (i32.shl (i32.and (local.get $f) (i32.const -4)) (i32.const 2)))
  ;; four rows at a time: four independent memory streams hide more of the latency of random rows
  (block $done4 (loop $rows4
    (br_if $done4 (i32.gt_u (i32.add (local.get $r) (i32.const 4)) (local.get $m)))
    (local.set $s (i32.add (local.get $src) (i32.mul (i32.load (local.get $idx)) (local.get $row))))
    (local.set $s1 (i32.add (local.get $src) (i32.mul (i32.load offset=4 (local.get $idx)) (local.get $row))))
    (local.set $s2 (i32.add (local.get $src) (i32.mul (i32.load offset=8 (local.get $idx)) (local.get $row))))
    (local.set $s3 (i32.add (local.get $src) (i32.mul (i32.load offset=12 (local.get $idx)) (local.get $row))))
    (local.set $d1 (i32.add (local.get $dst) (local.get $row)))
    (local.set $d2 (i32.add (local.get $d1) (local.get $row)))
    (local.set $d3 (i32.add (local.get $d2) (local.get $row)))
    (local.set $i (i32.const 0))
    (block $vd (loop $vl
      (br_if $vd (i32.ge_u (local.get $i) (local.get $end4)))
      (v128.store ${at('$dst')} (v128.load (i32.add (local.get $s) (local.get $i))))
      (v128.store ${at('$d1')} (v128.load (i32.add (local.get $s1) (local.get $i))))
      (v128.store ${at('$d2')} (v128.load (i32.add (local.get $s2) (local.get $i))))
      (v128.store ${at('$d3')} (v128.load (i32.add (local.get $s3) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $vl)))
    (block $sd (loop $sl
      (br_if $sd (i32.ge_u (local.get $i) (local.get $row)))
      (f32.store ${at('$dst')} (f32.load (i32.add (local.get $s) (local.get $i))))
      (f32.store ${at('$d1')} (f32.load (i32.add (local.get $s1) (local.get $i))))
      (f32.store ${at('$d2')} (f32.load (i32.add (local.get $s2) (local.get $i))))
      (f32.store ${at('$d3')} (f32.load (i32.add (local.get $s3) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $sl)))
    (local.set $dst (i32.add (local.get $d3) (local.get $row)))
    (local.set $idx (i32.add (local.get $idx) (i32.const 16)))
    (local.set $r (i32.add (local.get $r) (i32.const 4)))
    (br $rows4)))
  (block $done (loop $rows
    (br_if $done (i32.ge_u (local.get $r) (local.get $m)))
    (local.set $s (i32.add (local.get $src) (i32.mul (i32.load (local.get $idx)) (local.get $row))))
    (local.set $i (i32.const 0))
    (block $vd (loop $vl
      (br_if $vd (i32.ge_u (local.get $i) (local.get $end4)))
      (v128.store ${at('$dst')} (v128.load (i32.add (local.get $s) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $vl)))
    (block $sd (loop $sl
      (br_if $sd (i32.ge_u (local.get $i) (local.get $row)))
      (f32.store ${at('$dst')} (f32.load (i32.add (local.get $s) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $sl)))
    (local.set $dst (i32.add (local.get $dst) (local.get $row)))
    (local.set $idx (i32.add (local.get $idx) (i32.const 4)))
    (local.set $r (i32.add (local.get $r) (i32.const 1)))
    (br $rows)))
)
`;

/** All fused kernels, appended to the matmul module. */
export const OPS_WAT = ELEMENTWISE_WAT + MOMENTUM_WAT + GATHER_WAT;
