;; The sampling pass of FrameStats.compute (frame-stats.ts) in WebAssembly: per grid point of an RGB24
;; frame its luma, the colour sums, saturation, exposure counts and the luma histogram, then the
;; 4-neighbour Laplacian's sums over the luma grid. The arithmetic is the JavaScript loop's, operation
;; for operation in float64 (the grid stored as float32, as there), so the statistics are the same bit
;; for bit (test/agent/telemetry). Compiled by `npm run build:wasm` into frame-stats-wasm.ts.
;;
;; Pointers are byte offsets into the module's memory: $src the sampled rows of the frame, one after
;; the other ($rowBytes each: the frame's row gy * step + step / 2 at gy * rowBytes), $grid gw * gh
;; float32, $hist 256 uint32 (zeroed here), $out 10 float64: sumY, sumY2, sumR, sumG, sumB, sumS,
;; under, over, then the Laplacian's sum and sum of squares (0 when the grid is under 3x3).
(module
  (memory (export "memory") 1)
  (func (export "stats")
    (param $src i32) (param $rowBytes i32) (param $step i32) (param $gw i32) (param $gh i32)
    (param $grid i32) (param $hist i32) (param $out i32)
    (local $gx i32) (local $gy i32) (local $i i32) (local $di i32) (local $off i32) (local $g i32)
    (local $r i32) (local $gr i32) (local $b i32) (local $mx i32) (local $mn i32) (local $h i32)
    (local $y f64) (local $sumY f64) (local $sumY2 f64) (local $sumR f64) (local $sumG f64) (local $sumB f64)
    (local $sumS f64) (local $under f64) (local $over f64) (local $l f64) (local $s f64) (local $s2 f64)
    ;; The histogram starts empty.
    (memory.fill (local.get $hist) (i32.const 0) (i32.const 1024))
    (local.set $off (i32.shr_u (local.get $step) (i32.const 1)))
    (local.set $di (i32.mul (local.get $step) (i32.const 3)))
    (local.set $g (local.get $grid))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $gy) (local.get $gh)))
        (local.set $i (i32.add (i32.add (local.get $src) (i32.mul (local.get $gy) (local.get $rowBytes))) (i32.mul (local.get $off) (i32.const 3))))
        (local.set $gx (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $gx) (local.get $gw)))
            (local.set $r (i32.load8_u (local.get $i)))
            (local.set $gr (i32.load8_u offset=1 (local.get $i)))
            (local.set $b (i32.load8_u offset=2 (local.get $i)))
            ;; y = 0.299 r + 0.587 g + 0.114 b, summed left to right as in JavaScript
            (local.set $y (f64.add (f64.add (f64.mul (f64.const 0.299) (f64.convert_i32_u (local.get $r)))
                                            (f64.mul (f64.const 0.587) (f64.convert_i32_u (local.get $gr))))
                                   (f64.mul (f64.const 0.114) (f64.convert_i32_u (local.get $b)))))
            (f32.store (local.get $g) (f32.demote_f64 (local.get $y)))
            (local.set $sumY (f64.add (local.get $sumY) (local.get $y)))
            (local.set $sumY2 (f64.add (local.get $sumY2) (f64.mul (local.get $y) (local.get $y))))
            (local.set $sumR (f64.add (local.get $sumR) (f64.convert_i32_u (local.get $r))))
            (local.set $sumG (f64.add (local.get $sumG) (f64.convert_i32_u (local.get $gr))))
            (local.set $sumB (f64.add (local.get $sumB) (f64.convert_i32_u (local.get $b))))
            ;; max and min of the three channels
            (local.set $mx (select (select (local.get $r) (local.get $b) (i32.gt_u (local.get $r) (local.get $b)))
                                   (select (local.get $gr) (local.get $b) (i32.gt_u (local.get $gr) (local.get $b)))
                                   (i32.gt_u (local.get $r) (local.get $gr))))
            (local.set $mn (select (select (local.get $r) (local.get $b) (i32.lt_u (local.get $r) (local.get $b)))
                                   (select (local.get $gr) (local.get $b) (i32.lt_u (local.get $gr) (local.get $b)))
                                   (i32.lt_u (local.get $r) (local.get $gr))))
            (if (local.get $mx)
              (then (local.set $sumS (f64.add (local.get $sumS)
                      (f64.div (f64.convert_i32_u (i32.sub (local.get $mx) (local.get $mn))) (f64.convert_i32_u (local.get $mx)))))))
            (if (f64.lt (local.get $y) (f64.const 10))
              (then (local.set $under (f64.add (local.get $under) (f64.const 1)))))
            (if (i32.ge_u (local.get $mx) (i32.const 250))
              (then (local.set $over (f64.add (local.get $over) (f64.const 1)))))
            ;; hist[(y + 0.5) | 0]++
            (local.set $h (i32.add (local.get $hist) (i32.shl (i32.trunc_f64_s (f64.add (local.get $y) (f64.const 0.5))) (i32.const 2))))
            (i32.store (local.get $h) (i32.add (i32.load (local.get $h)) (i32.const 1)))
            (local.set $i (i32.add (local.get $i) (local.get $di)))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (local.set $gx (i32.add (local.get $gx) (i32.const 1)))
            (br $cols)))
        (local.set $gy (i32.add (local.get $gy) (i32.const 1)))
        (br $rows)))
    ;; The Laplacian 4 g[i] - g[i-1] - g[i+1] - g[i-gw] - g[i+gw] over the interior of the grid.
    (if (i32.and (i32.ge_u (local.get $gw) (i32.const 3)) (i32.ge_u (local.get $gh) (i32.const 3)))
      (then
        (local.set $gy (i32.const 1))
        (local.set $di (i32.shl (local.get $gw) (i32.const 2)))
        (block $lrows_done
          (loop $lrows
            (br_if $lrows_done (i32.ge_u (local.get $gy) (i32.sub (local.get $gh) (i32.const 1))))
            (local.set $g (i32.add (local.get $grid) (i32.shl (i32.add (i32.mul (local.get $gy) (local.get $gw)) (i32.const 1)) (i32.const 2))))
            (local.set $gx (i32.const 1))
            (block $lcols_done
              (loop $lcols
                (br_if $lcols_done (i32.ge_u (local.get $gx) (i32.sub (local.get $gw) (i32.const 1))))
                (local.set $l (f64.sub (f64.sub (f64.sub (f64.sub
                  (f64.mul (f64.const 4) (f64.promote_f32 (f32.load (local.get $g))))
                  (f64.promote_f32 (f32.load (i32.sub (local.get $g) (i32.const 4)))))
                  (f64.promote_f32 (f32.load offset=4 (local.get $g))))
                  (f64.promote_f32 (f32.load (i32.sub (local.get $g) (local.get $di)))))
                  (f64.promote_f32 (f32.load (i32.add (local.get $g) (local.get $di))))))
                (local.set $s (f64.add (local.get $s) (local.get $l)))
                (local.set $s2 (f64.add (local.get $s2) (f64.mul (local.get $l) (local.get $l))))
                (local.set $g (i32.add (local.get $g) (i32.const 4)))
                (local.set $gx (i32.add (local.get $gx) (i32.const 1)))
                (br $lcols)))
            (local.set $gy (i32.add (local.get $gy) (i32.const 1)))
            (br $lrows)))))
    (f64.store (local.get $out) (local.get $sumY))
    (f64.store offset=8 (local.get $out) (local.get $sumY2))
    (f64.store offset=16 (local.get $out) (local.get $sumR))
    (f64.store offset=24 (local.get $out) (local.get $sumG))
    (f64.store offset=32 (local.get $out) (local.get $sumB))
    (f64.store offset=40 (local.get $out) (local.get $sumS))
    (f64.store offset=48 (local.get $out) (local.get $under))
    (f64.store offset=56 (local.get $out) (local.get $over))
    (f64.store offset=64 (local.get $out) (local.get $s))
    (f64.store offset=72 (local.get $out) (local.get $s2))))
