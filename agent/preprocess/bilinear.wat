;; Bilinear resampling of an RGB24 frame into CHW float32 planes: resampleBilinear (bilinear.ts) in
;; WebAssembly, for the letterbox of every frame. The arithmetic is the JavaScript loop's, operation
;; for operation in float64, so the tensor is bit for bit the same (test/agent/preprocess): per
;; channel, h = u + (v - u) * wx along each of the two source rows, then h0 * wy0 + h1 * wy, with
;; wy = fy * (1/255) and wy0 = 1/255 - wy, rounded once to float32 when stored. Compiled by
;; `npm run build:wasm` into bilinear-wasm.ts.
;;
;; Pointers are byte offsets into the module's memory: $src the frame (RGB24, rows of srcW * 3 bytes);
;; $x0, $x1 (i32, byte offsets of the two taps within a row, already x 3) and $fx (f32) per output
;; column; $y0, $y1 (i32, byte offsets of the two source rows) and $fy (f32) per output row; $dst the
;; tensor, three planes of $plane floats, rows of $dstW floats, the image written at ($left, $top).
(module
  (memory (export "memory") 1)
  (func (export "resample")
    (param $src i32) (param $x0 i32) (param $x1 i32) (param $fx i32) (param $y0 i32) (param $y1 i32) (param $fy i32)
    (param $dst i32) (param $outW i32) (param $outH i32) (param $dstW i32) (param $plane i32) (param $left i32) (param $top i32)
    (local $oy i32) (local $ox i32) (local $r0 i32) (local $r1 i32) (local $d i32) (local $g i32) (local $b i32)
    (local $p00 i32) (local $p01 i32) (local $p10 i32) (local $p11 i32) (local $t i32)
    (local $wy f64) (local $wy0 f64) (local $wx f64) (local $u f64) (local $l f64)
    ;; Byte distances from a red float to its green and blue.
    (local.set $g (i32.shl (local.get $plane) (i32.const 2)))
    (local.set $b (i32.shl (local.get $plane) (i32.const 3)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $oy) (local.get $outH)))
        (local.set $t (i32.shl (local.get $oy) (i32.const 2)))
        (local.set $r0 (i32.add (local.get $src) (i32.load (i32.add (local.get $y0) (local.get $t)))))
        (local.set $r1 (i32.add (local.get $src) (i32.load (i32.add (local.get $y1) (local.get $t)))))
        ;; 0x1.0101010101010p-8 is 1/255 as a float64, the JavaScript constant INV255.
        (local.set $wy (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $fy) (local.get $t)))) (f64.const 0x1.0101010101010p-8)))
        (local.set $wy0 (f64.sub (f64.const 0x1.0101010101010p-8) (local.get $wy)))
        (local.set $d (i32.add (local.get $dst)
          (i32.shl (i32.add (i32.mul (i32.add (local.get $top) (local.get $oy)) (local.get $dstW)) (local.get $left)) (i32.const 2))))
        (local.set $ox (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $ox) (local.get $outW)))
            (local.set $t (i32.shl (local.get $ox) (i32.const 2)))
            (local.set $wx (f64.promote_f32 (f32.load (i32.add (local.get $fx) (local.get $t)))))
            (local.set $p00 (i32.add (local.get $r0) (i32.load (i32.add (local.get $x0) (local.get $t)))))
            (local.set $p01 (i32.add (local.get $r0) (i32.load (i32.add (local.get $x1) (local.get $t)))))
            (local.set $p10 (i32.add (local.get $r1) (i32.load (i32.add (local.get $x0) (local.get $t)))))
            (local.set $p11 (i32.add (local.get $r1) (i32.load (i32.add (local.get $x1) (local.get $t)))))
            ;; red
            (local.set $u (f64.convert_i32_u (i32.load8_u (local.get $p00))))
            (local.set $l (f64.convert_i32_u (i32.load8_u (local.get $p10))))
            (f32.store (local.get $d) (f32.demote_f64 (f64.add
              (f64.mul (f64.add (local.get $u) (f64.mul (f64.sub (f64.convert_i32_u (i32.load8_u (local.get $p01))) (local.get $u)) (local.get $wx))) (local.get $wy0))
              (f64.mul (f64.add (local.get $l) (f64.mul (f64.sub (f64.convert_i32_u (i32.load8_u (local.get $p11))) (local.get $l)) (local.get $wx))) (local.get $wy)))))
            ;; green
            (local.set $u (f64.convert_i32_u (i32.load8_u offset=1 (local.get $p00))))
            (local.set $l (f64.convert_i32_u (i32.load8_u offset=1 (local.get $p10))))
            (f32.store (i32.add (local.get $d) (local.get $g)) (f32.demote_f64 (f64.add
              (f64.mul (f64.add (local.get $u) (f64.mul (f64.sub (f64.convert_i32_u (i32.load8_u offset=1 (local.get $p01))) (local.get $u)) (local.get $wx))) (local.get $wy0))
              (f64.mul (f64.add (local.get $l) (f64.mul (f64.sub (f64.convert_i32_u (i32.load8_u offset=1 (local.get $p11))) (local.get $l)) (local.get $wx))) (local.get $wy)))))
            ;; blue
            (local.set $u (f64.convert_i32_u (i32.load8_u offset=2 (local.get $p00))))
            (local.set $l (f64.convert_i32_u (i32.load8_u offset=2 (local.get $p10))))
            (f32.store (i32.add (local.get $d) (local.get $b)) (f32.demote_f64 (f64.add
              (f64.mul (f64.add (local.get $u) (f64.mul (f64.sub (f64.convert_i32_u (i32.load8_u offset=2 (local.get $p01))) (local.get $u)) (local.get $wx))) (local.get $wy0))
              (f64.mul (f64.add (local.get $l) (f64.mul (f64.sub (f64.convert_i32_u (i32.load8_u offset=2 (local.get $p11))) (local.get $l)) (local.get $wx))) (local.get $wy)))))
            (local.set $d (i32.add (local.get $d) (i32.const 4)))
            (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
            (br $cols)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $rows)))))
