;; The sampling pass of FrameStats.compute (frame-stats.ts) in WebAssembly SIMD, four grid points at
;; a time: per grid point of an RGB24 frame its luma in thousandths, y = 299 r + 587 g + 114 b (an
;; integer), the colour sums, the exposure counts, the luma histogram and, per maximum channel, the
;; sum of (max - min); then the 4-neighbour Laplacian's sums over the luma grid. Every per-row sum is
;; an exact integer, whatever the order its terms are added in, and the rows are added to the totals
;; (float64) in row order, as in JavaScript: so the statistics are the same bit for bit
;; (test/agent/telemetry). Compiled by `npm run build:wasm` into frame-stats-wasm.ts.
;;
;; The memory is the caller's (imported): a frame may be read where its camera's source wrote it
;; (agent/preprocess/frame-memory.ts). Pointers are byte offsets into it: $src the first sampled row
;; (grid row gy at $src + gy * $rowBytes: the frame's rows in place, or the sampled rows copied one
;; after the other), with 4 bytes free after the last (a point is read as 4 bytes); $grid gw * gh int32; $hist and $dsum 4 x 256
;; uint32 each (one table per lane, zeroed here, summed into the first 256 at the end): the luma
;; histogram (bin round(y / 1000)) and, by max channel, the sum of (max - min); $out 9 float64:
;; sumY, sumY2 (of y, thousandths), sumR, sumG, sumB, under, over, then the Laplacian's sum and sum of
;; squares (0 when the grid is under 3x3). The caller keeps gw <= 2048, so no int32 sum overflows.
(module
  (import "env" "memory" (memory 1))
  (func (export "stats")
    (param $src i32) (param $rowBytes i32) (param $step i32) (param $gw i32) (param $gh i32)
    (param $grid i32) (param $hist i32) (param $dsum i32) (param $out i32)
    (local $gx i32) (local $gy i32) (local $p i32) (local $di i32) (local $g i32) (local $q i32) (local $n4 i32)
    (local $r i32) (local $gr i32) (local $b i32) (local $y i32) (local $mx i32) (local $mn i32) (local $l i32) (local $w4 i32)
    (local $tY i32) (local $tR i32) (local $tG i32) (local $tB i32) (local $tU i32) (local $tO i32) (local $tY2 f64)
    (local $v v128) (local $vr v128) (local $vg v128) (local $vb v128) (local $vy v128) (local $vmx v128) (local $vd v128)
    (local $f v128) (local $aY v128) (local $aR v128) (local $aG v128) (local $aB v128) (local $aU v128) (local $aO v128)
    (local $aY2 v128) (local $aY2h v128)
    (local $sumY f64) (local $sumY2 f64) (local $sumR f64) (local $sumG f64) (local $sumB f64) (local $under f64) (local $over f64)
    (local $s f64) (local $s2 f64)
    ;; The lanes' tables start empty.
    (memory.fill (local.get $hist) (i32.const 0) (i32.const 4096))
    (memory.fill (local.get $dsum) (i32.const 0) (i32.const 4096))
    (local.set $di (i32.mul (local.get $step) (i32.const 3)))
    (local.set $n4 (i32.and (local.get $gw) (i32.const -4)))
    (local.set $g (local.get $grid))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $gy) (local.get $gh)))
        (local.set $p (i32.add (i32.add (local.get $src) (i32.mul (local.get $gy) (local.get $rowBytes)))
                               (i32.mul (i32.shr_u (local.get $step) (i32.const 1)) (i32.const 3))))
        (local.set $aY (v128.const i32x4 0 0 0 0))
        (local.set $aR (v128.const i32x4 0 0 0 0))
        (local.set $aG (v128.const i32x4 0 0 0 0))
        (local.set $aB (v128.const i32x4 0 0 0 0))
        (local.set $aU (v128.const i32x4 0 0 0 0))
        (local.set $aO (v128.const i32x4 0 0 0 0))
        (local.set $aY2 (v128.const f64x2 0 0))
        (local.set $aY2h (v128.const f64x2 0 0))
        (local.set $tY (i32.const 0))
        (local.set $tR (i32.const 0))
        (local.set $tG (i32.const 0))
        (local.set $tB (i32.const 0))
        (local.set $tU (i32.const 0))
        (local.set $tO (i32.const 0))
        (local.set $tY2 (f64.const 0))
        ;; Four points at a time: each read as 4 bytes (r, g, b, and a byte not used).
        (local.set $gx (i32.const 0))
        (block $quads_done
          (loop $quads
            (br_if $quads_done (i32.ge_u (local.get $gx) (local.get $n4)))
            (local.set $v (i32x4.replace_lane 3
              (i32x4.replace_lane 2
                (i32x4.replace_lane 1
                  (i32x4.splat (i32.load (local.get $p)))
                  (i32.load (i32.add (local.get $p) (local.get $di))))
                (i32.load (i32.add (local.get $p) (i32.shl (local.get $di) (i32.const 1)))))
              (i32.load (i32.add (local.get $p) (i32.mul (local.get $di) (i32.const 3))))))
            (local.set $vr (v128.and (local.get $v) (v128.const i32x4 255 255 255 255)))
            (local.set $vg (v128.and (i32x4.shr_u (local.get $v) (i32.const 8)) (v128.const i32x4 255 255 255 255)))
            (local.set $vb (v128.and (i32x4.shr_u (local.get $v) (i32.const 16)) (v128.const i32x4 255 255 255 255)))
            (local.set $vy (i32x4.add (i32x4.add
              (i32x4.mul (local.get $vr) (v128.const i32x4 299 299 299 299))
              (i32x4.mul (local.get $vg) (v128.const i32x4 587 587 587 587)))
              (i32x4.mul (local.get $vb) (v128.const i32x4 114 114 114 114))))
            (v128.store (local.get $g) (local.get $vy))
            (local.set $aY (i32x4.add (local.get $aY) (local.get $vy)))
            (local.set $aR (i32x4.add (local.get $aR) (local.get $vr)))
            (local.set $aG (i32x4.add (local.get $aG) (local.get $vg)))
            (local.set $aB (i32x4.add (local.get $aB) (local.get $vb)))
            ;; y * y, exact in float64, two lanes at a time.
            (local.set $f (f64x2.convert_low_i32x4_s (local.get $vy)))
            (local.set $aY2 (f64x2.add (local.get $aY2) (f64x2.mul (local.get $f) (local.get $f))))
            (local.set $f (f64x2.convert_low_i32x4_s
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $vy) (local.get $vy))))
            (local.set $aY2h (f64x2.add (local.get $aY2h) (f64x2.mul (local.get $f) (local.get $f))))
            (local.set $vmx (i32x4.max_u (i32x4.max_u (local.get $vr) (local.get $vg)) (local.get $vb)))
            (local.set $vd (i32x4.sub (local.get $vmx)
              (i32x4.min_u (i32x4.min_u (local.get $vr) (local.get $vg)) (local.get $vb))))
            ;; A true comparison is -1 in its lane: subtracting it counts.
            (local.set $aU (i32x4.sub (local.get $aU) (i32x4.lt_s (local.get $vy) (v128.const i32x4 10000 10000 10000 10000))))
            (local.set $aO (i32x4.sub (local.get $aO) (i32x4.ge_s (local.get $vmx) (v128.const i32x4 250 250 250 250))))
            ;; Bin round(y / 1000) = floor((y + 500) * float32(0.001)): exact for y + 500 <= 255500.
            ;; Then byte offsets into each lane's own table (1024 bytes apart).
            (local.set $v (i32x4.add
              (i32x4.shl (i32x4.trunc_sat_f32x4_s (f32x4.mul
                (f32x4.convert_i32x4_s (i32x4.add (local.get $vy) (v128.const i32x4 500 500 500 500)))
                (v128.const f32x4 0.001 0.001 0.001 0.001))) (i32.const 2))
              (v128.const i32x4 0 1024 2048 3072)))
            (local.set $vmx (i32x4.add (i32x4.shl (local.get $vmx) (i32.const 2)) (v128.const i32x4 0 1024 2048 3072)))
            (local.set $q (i32.add (local.get $hist) (i32x4.extract_lane 0 (local.get $v))))
            (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32.const 1)))
            (local.set $q (i32.add (local.get $hist) (i32x4.extract_lane 1 (local.get $v))))
            (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32.const 1)))
            (local.set $q (i32.add (local.get $hist) (i32x4.extract_lane 2 (local.get $v))))
            (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32.const 1)))
            (local.set $q (i32.add (local.get $hist) (i32x4.extract_lane 3 (local.get $v))))
            (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32.const 1)))
            (local.set $q (i32.add (local.get $dsum) (i32x4.extract_lane 0 (local.get $vmx))))
            (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32x4.extract_lane 0 (local.get $vd))))
            (local.set $q (i32.add (local.get $dsum) (i32x4.extract_lane 1 (local.get $vmx))))
            (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32x4.extract_lane 1 (local.get $vd))))
            (local.set $q (i32.add (local.get $dsum) (i32x4.extract_lane 2 (local.get $vmx))))
            (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32x4.extract_lane 2 (local.get $vd))))
            (local.set $q (i32.add (local.get $dsum) (i32x4.extract_lane 3 (local.get $vmx))))
            (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32x4.extract_lane 3 (local.get $vd))))
            (local.set $p (i32.add (local.get $p) (i32.shl (local.get $di) (i32.const 2))))
            (local.set $g (i32.add (local.get $g) (i32.const 16)))
            (local.set $gx (i32.add (local.get $gx) (i32.const 4)))
            (br $quads)))
        ;; The rest of the row, one point at a time, into lane 0's tables.
        (block $ones_done
          (loop $ones
            (br_if $ones_done (i32.ge_u (local.get $gx) (local.get $gw)))
            (local.set $r (i32.load8_u (local.get $p)))
            (local.set $gr (i32.load8_u offset=1 (local.get $p)))
            (local.set $b (i32.load8_u offset=2 (local.get $p)))
            (local.set $y (i32.add (i32.add (i32.mul (local.get $r) (i32.const 299)) (i32.mul (local.get $gr) (i32.const 587)))
                                   (i32.mul (local.get $b) (i32.const 114))))
            (i32.store (local.get $g) (local.get $y))
            (local.set $tY (i32.add (local.get $tY) (local.get $y)))
            (local.set $tY2 (f64.add (local.get $tY2) (f64.mul (f64.convert_i32_s (local.get $y)) (f64.convert_i32_s (local.get $y)))))
            (local.set $tR (i32.add (local.get $tR) (local.get $r)))
            (local.set $tG (i32.add (local.get $tG) (local.get $gr)))
            (local.set $tB (i32.add (local.get $tB) (local.get $b)))
            (local.set $mx (select (select (local.get $r) (local.get $b) (i32.gt_u (local.get $r) (local.get $b)))
                                   (select (local.get $gr) (local.get $b) (i32.gt_u (local.get $gr) (local.get $b)))
                                   (i32.gt_u (local.get $r) (local.get $gr))))
            (local.set $mn (select (select (local.get $r) (local.get $b) (i32.lt_u (local.get $r) (local.get $b)))
                                   (select (local.get $gr) (local.get $b) (i32.lt_u (local.get $gr) (local.get $b)))
                                   (i32.lt_u (local.get $r) (local.get $gr))))
            (local.set $tU (i32.add (local.get $tU) (i32.lt_s (local.get $y) (i32.const 10000))))
            (local.set $tO (i32.add (local.get $tO) (i32.ge_u (local.get $mx) (i32.const 250))))
            (local.set $q (i32.add (local.get $hist)
              (i32.shl (i32.div_u (i32.add (local.get $y) (i32.const 500)) (i32.const 1000)) (i32.const 2))))
            (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32.const 1)))
            (local.set $q (i32.add (local.get $dsum) (i32.shl (local.get $mx) (i32.const 2))))
            (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32.sub (local.get $mx) (local.get $mn))))
            (local.set $p (i32.add (local.get $p) (local.get $di)))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (local.set $gx (i32.add (local.get $gx) (i32.const 1)))
            (br $ones)))
        ;; The row's sums, each an exact integer, onto the totals in row order.
        (local.set $sumY (f64.add (local.get $sumY) (f64.convert_i32_u (i32.add (local.get $tY) (i32.add
          (i32.add (i32x4.extract_lane 0 (local.get $aY)) (i32x4.extract_lane 1 (local.get $aY)))
          (i32.add (i32x4.extract_lane 2 (local.get $aY)) (i32x4.extract_lane 3 (local.get $aY))))))))
        (local.set $sumY2 (f64.add (local.get $sumY2) (f64.add (local.get $tY2) (f64.add
          (f64.add (f64x2.extract_lane 0 (local.get $aY2)) (f64x2.extract_lane 1 (local.get $aY2)))
          (f64.add (f64x2.extract_lane 0 (local.get $aY2h)) (f64x2.extract_lane 1 (local.get $aY2h)))))))
        (local.set $sumR (f64.add (local.get $sumR) (f64.convert_i32_u (i32.add (local.get $tR) (i32.add
          (i32.add (i32x4.extract_lane 0 (local.get $aR)) (i32x4.extract_lane 1 (local.get $aR)))
          (i32.add (i32x4.extract_lane 2 (local.get $aR)) (i32x4.extract_lane 3 (local.get $aR))))))))
        (local.set $sumG (f64.add (local.get $sumG) (f64.convert_i32_u (i32.add (local.get $tG) (i32.add
          (i32.add (i32x4.extract_lane 0 (local.get $aG)) (i32x4.extract_lane 1 (local.get $aG)))
          (i32.add (i32x4.extract_lane 2 (local.get $aG)) (i32x4.extract_lane 3 (local.get $aG))))))))
        (local.set $sumB (f64.add (local.get $sumB) (f64.convert_i32_u (i32.add (local.get $tB) (i32.add
          (i32.add (i32x4.extract_lane 0 (local.get $aB)) (i32x4.extract_lane 1 (local.get $aB)))
          (i32.add (i32x4.extract_lane 2 (local.get $aB)) (i32x4.extract_lane 3 (local.get $aB))))))))
        (local.set $under (f64.add (local.get $under) (f64.convert_i32_u (i32.add (local.get $tU) (i32.add
          (i32.add (i32x4.extract_lane 0 (local.get $aU)) (i32x4.extract_lane 1 (local.get $aU)))
          (i32.add (i32x4.extract_lane 2 (local.get $aU)) (i32x4.extract_lane 3 (local.get $aU))))))))
        (local.set $over (f64.add (local.get $over) (f64.convert_i32_u (i32.add (local.get $tO) (i32.add
          (i32.add (i32x4.extract_lane 0 (local.get $aO)) (i32x4.extract_lane 1 (local.get $aO)))
          (i32.add (i32x4.extract_lane 2 (local.get $aO)) (i32x4.extract_lane 3 (local.get $aO))))))))
        (local.set $gy (i32.add (local.get $gy) (i32.const 1)))
        (br $rows)))
    ;; Each lane's tables summed into the first: the histogram and the (max - min) sums.
    (local.set $q (i32.const 0))
    (block $merge_done
      (loop $merge
        (br_if $merge_done (i32.ge_u (local.get $q) (i32.const 1024)))
        (local.set $p (i32.add (local.get $hist) (local.get $q)))
        (v128.store (local.get $p) (i32x4.add
          (i32x4.add (v128.load (local.get $p)) (v128.load offset=1024 (local.get $p)))
          (i32x4.add (v128.load offset=2048 (local.get $p)) (v128.load offset=3072 (local.get $p)))))
        (local.set $p (i32.add (local.get $dsum) (local.get $q)))
        (v128.store (local.get $p) (i32x4.add
          (i32x4.add (v128.load (local.get $p)) (v128.load offset=1024 (local.get $p)))
          (i32x4.add (v128.load offset=2048 (local.get $p)) (v128.load offset=3072 (local.get $p)))))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (br $merge)))
    ;; The Laplacian 4 g[i] - g[i-1] - g[i+1] - g[i-gw] - g[i+gw] over the interior of the grid.
    (if (i32.and (i32.ge_u (local.get $gw) (i32.const 3)) (i32.ge_u (local.get $gh) (i32.const 3)))
      (then
        (local.set $w4 (i32.shl (local.get $gw) (i32.const 2)))
        (local.set $n4 (i32.add (i32.and (i32.sub (local.get $gw) (i32.const 2)) (i32.const -4)) (i32.const 1)))
        (local.set $gy (i32.const 1))
        (block $lrows_done
          (loop $lrows
            (br_if $lrows_done (i32.ge_u (local.get $gy) (i32.sub (local.get $gh) (i32.const 1))))
            (local.set $g (i32.add (local.get $grid) (i32.shl (i32.add (i32.mul (local.get $gy) (local.get $gw)) (i32.const 1)) (i32.const 2))))
            (local.set $aY (v128.const i32x4 0 0 0 0))
            (local.set $aY2 (v128.const f64x2 0 0))
            (local.set $aY2h (v128.const f64x2 0 0))
            (local.set $tY (i32.const 0))
            (local.set $tY2 (f64.const 0))
            (local.set $gx (i32.const 1))
            (block $lquads_done
              (loop $lquads
                (br_if $lquads_done (i32.ge_u (local.get $gx) (local.get $n4)))
                (local.set $v (i32x4.sub (i32x4.shl (v128.load (local.get $g)) (i32.const 2))
                  (i32x4.add
                    (i32x4.add (v128.load (i32.sub (local.get $g) (i32.const 4))) (v128.load offset=4 (local.get $g)))
                    (i32x4.add (v128.load (i32.sub (local.get $g) (local.get $w4))) (v128.load (i32.add (local.get $g) (local.get $w4)))))))
                (local.set $aY (i32x4.add (local.get $aY) (local.get $v)))
                (local.set $f (f64x2.convert_low_i32x4_s (local.get $v)))
                (local.set $aY2 (f64x2.add (local.get $aY2) (f64x2.mul (local.get $f) (local.get $f))))
                (local.set $f (f64x2.convert_low_i32x4_s
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
                (local.set $aY2h (f64x2.add (local.get $aY2h) (f64x2.mul (local.get $f) (local.get $f))))
                (local.set $g (i32.add (local.get $g) (i32.const 16)))
                (local.set $gx (i32.add (local.get $gx) (i32.const 4)))
                (br $lquads)))
            (block $lones_done
              (loop $lones
                (br_if $lones_done (i32.ge_u (local.get $gx) (i32.sub (local.get $gw) (i32.const 1))))
                (local.set $l (i32.sub (i32.shl (i32.load (local.get $g)) (i32.const 2))
                  (i32.add
                    (i32.add (i32.load (i32.sub (local.get $g) (i32.const 4))) (i32.load offset=4 (local.get $g)))
                    (i32.add (i32.load (i32.sub (local.get $g) (local.get $w4))) (i32.load (i32.add (local.get $g) (local.get $w4)))))))
                (local.set $tY (i32.add (local.get $tY) (local.get $l)))
                (local.set $tY2 (f64.add (local.get $tY2) (f64.mul (f64.convert_i32_s (local.get $l)) (f64.convert_i32_s (local.get $l)))))
                (local.set $g (i32.add (local.get $g) (i32.const 4)))
                (local.set $gx (i32.add (local.get $gx) (i32.const 1)))
                (br $lones)))
            (local.set $s (f64.add (local.get $s) (f64.add (f64.convert_i32_s (local.get $tY)) (f64.add
              (f64.add (f64.convert_i32_s (i32x4.extract_lane 0 (local.get $aY))) (f64.convert_i32_s (i32x4.extract_lane 1 (local.get $aY))))
              (f64.add (f64.convert_i32_s (i32x4.extract_lane 2 (local.get $aY))) (f64.convert_i32_s (i32x4.extract_lane 3 (local.get $aY))))))))
            (local.set $s2 (f64.add (local.get $s2) (f64.add (local.get $tY2) (f64.add
              (f64.add (f64x2.extract_lane 0 (local.get $aY2)) (f64x2.extract_lane 1 (local.get $aY2)))
              (f64.add (f64x2.extract_lane 0 (local.get $aY2h)) (f64x2.extract_lane 1 (local.get $aY2h)))))))
            (local.set $gy (i32.add (local.get $gy) (i32.const 1)))
            (br $lrows)))))
    (f64.store (local.get $out) (local.get $sumY))
    (f64.store offset=8 (local.get $out) (local.get $sumY2))
    (f64.store offset=16 (local.get $out) (local.get $sumR))
    (f64.store offset=24 (local.get $out) (local.get $sumG))
    (f64.store offset=32 (local.get $out) (local.get $sumB))
    (f64.store offset=40 (local.get $out) (local.get $under))
    (f64.store offset=48 (local.get $out) (local.get $over))
    (f64.store offset=56 (local.get $out) (local.get $s))
    (f64.store offset=64 (local.get $out) (local.get $s2))))
