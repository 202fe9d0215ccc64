;; Bilinear resampling of an RGB24 frame into CHW float32 planes: resampleBilinear (bilinear.ts) in
;; WebAssembly SIMD, for the letterbox of every frame. The arithmetic is the JavaScript loop's, exact
;; until the last step, so the tensor is bit for bit the same (test/agent/preprocess): the weights
;; are in 256ths; per output row the two source rows are blended first, every byte of the row, into
;; 16-bit sums v = s0 * (256 - wy) + s1 * wy (16 bytes at a time); then per output pixel the two
;; columns' sums, its three channels in one vector, h = v0 * (256 - wx) + v1 * wx in float32 (exact:
;; every product and sum is an integer below 2^24), and the value stored is h / (255 * 65536), the
;; one rounding. Compiled by `npm run build:wasm` into bilinear-wasm.ts.
;;
;; The memory is the caller's (imported): a frame may be read where its camera's source wrote it
;; (agent/preprocess/frame-memory.ts). Pointers are byte offsets into it: $src the frame (RGB24, rows of $rowBytes);
;; $cols 16 bytes per output column: the byte offsets in the blended row of its two taps (i32, the
;; frame's offsets x 2) and their weights 256 - wx and wx (f32); $y0, $y1 (i32, byte offsets of the
;; two source rows) and $wy (i32, 0-256) per output row; $tmp the blended row (2 * $rowBytes bytes);
;; $dst the tensor, three planes of $plane floats, rows of $dstW floats, the image written at
;; ($left, $top). Blocks of 16 may read up to 15 bytes past the frame's last row and write up to 30
;; past $tmp's row, and a pixel's 8-byte read takes the next pixel's red too (unused): the caller
;; leaves 32 bytes free after each.
(module
  (import "env" "memory" (memory 1))
  (func (export "resample")
    (param $src i32) (param $rowBytes i32) (param $cols i32)
    (param $y0 i32) (param $y1 i32) (param $wy i32) (param $tmp i32)
    (param $dst i32) (param $outW i32) (param $outH i32) (param $dstW i32) (param $plane i32) (param $left i32) (param $top i32)
    (local $oy i32) (local $ox i32) (local $r0 i32) (local $r1 i32) (local $i i32) (local $t i32) (local $d i32)
    (local $g i32) (local $b i32) (local $c i32) (local $e i32)
    (local $u v128) (local $l v128) (local $wa v128) (local $wb v128) (local $w v128) (local $h v128)
    ;; Byte distances from a red float to its green and blue.
    (local.set $g (i32.shl (local.get $plane) (i32.const 2)))
    (local.set $b (i32.shl (local.get $plane) (i32.const 3)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $oy) (local.get $outH)))
        (local.set $t (i32.shl (local.get $oy) (i32.const 2)))
        (local.set $r0 (i32.add (local.get $src) (i32.load (i32.add (local.get $y0) (local.get $t)))))
        (local.set $r1 (i32.add (local.get $src) (i32.load (i32.add (local.get $y1) (local.get $t)))))
        (local.set $wb (i16x8.splat (i32.load (i32.add (local.get $wy) (local.get $t)))))
        (local.set $wa (i16x8.sub (i16x8.splat (i32.const 256)) (local.get $wb)))
        ;; The two rows blended: 16 bytes in, 16 sums of 16 bits out (at most 255 * 256).
        (local.set $i (i32.const 0))
        (block $v_done
          (loop $v
            (br_if $v_done (i32.ge_u (local.get $i) (local.get $rowBytes)))
            (local.set $u (v128.load (i32.add (local.get $r0) (local.get $i))))
            (local.set $l (v128.load (i32.add (local.get $r1) (local.get $i))))
            (local.set $t (i32.add (local.get $tmp) (i32.shl (local.get $i) (i32.const 1))))
            (v128.store (local.get $t)
              (i16x8.add (i16x8.mul (i16x8.extend_low_i8x16_u (local.get $u)) (local.get $wa))
                         (i16x8.mul (i16x8.extend_low_i8x16_u (local.get $l)) (local.get $wb))))
            (v128.store offset=16 (local.get $t)
              (i16x8.add (i16x8.mul (i16x8.extend_high_i8x16_u (local.get $u)) (local.get $wa))
                         (i16x8.mul (i16x8.extend_high_i8x16_u (local.get $l)) (local.get $wb))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $v)))
        (local.set $d (i32.add (local.get $dst)
          (i32.shl (i32.add (i32.mul (i32.add (local.get $top) (local.get $oy)) (local.get $dstW)) (local.get $left)) (i32.const 2))))
        ;; Each output pixel: its two columns' R, G, B sums, weighted, one lane per plane.
        (local.set $c (local.get $cols))
        (local.set $e (i32.add (local.get $cols) (i32.shl (local.get $outW) (i32.const 4))))
        (block $h_done
          (loop $h
            (br_if $h_done (i32.ge_u (local.get $c) (local.get $e)))
            (local.set $u (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (v128.load64_zero
              (i32.add (local.get $tmp) (i32.load (local.get $c)))))))
            (local.set $l (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (v128.load64_zero
              (i32.add (local.get $tmp) (i32.load offset=4 (local.get $c)))))))
            (local.set $h (f32x4.div
              (f32x4.add (f32x4.mul (local.get $u) (v128.load32_splat offset=8 (local.get $c)))
                         (f32x4.mul (local.get $l) (v128.load32_splat offset=12 (local.get $c))))
              (v128.const f32x4 16711680 16711680 16711680 16711680)))
            (v128.store32_lane 0 (local.get $d) (local.get $h))
            (v128.store32_lane 1 (i32.add (local.get $d) (local.get $g)) (local.get $h))
            (v128.store32_lane 2 (i32.add (local.get $d) (local.get $b)) (local.get $h))
            (local.set $d (i32.add (local.get $d) (i32.const 4)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $h)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $rows)))))
