;; The box shrink of an RGB24 frame by a whole factor k: shrinkBox (box-shrink.ts) in WebAssembly SIMD,
;; the first half of the `area` letterbox. Each output pixel is the mean of a k x k block, rounded:
;; trunc((sum + $half) * $rcp), where $rcp is the float32 reciprocal of k * k that box-shrink.ts has
;; checked against every sum a block can have, so the bytes are the JavaScript loop's (exact integer
;; division) bit for bit. Compiled by `npm run build:wasm` into shrink-wasm.ts.
;;
;; Per output row, the k frame rows of its blocks are summed first, 16 bytes at a time, into 16-bit
;; sums ($acc: 2 bytes per byte of the rows, at most 255 x 16); then per output pixel its block's k
;; columns of those sums, its three channels in one vector, and the division.
;;
;; The memory is the caller's (imported): the frame may be read where its camera's source wrote it
;; (agent/preprocess/frame-memory.ts). Pointers are byte offsets into it: $src the frame (RGB24, rows
;; of $rowBytes); $acc the column sums (2 x $outW x $k x 3 bytes); $dst the shrunk image (RGB24,
;; $outW x $outH). Blocks of 16 may read up to 15 bytes past a row's covered part (into the next
;; row, or past the frame's end) and write up to 30 past $acc's, a block's 8-byte read takes the
;; next pixel's red too, and a pixel's 4-byte store writes one byte past it: the caller leaves
;; 32 bytes free after each region.
(module
  (import "env" "memory" (memory 1))
  (func (export "shrink")
    (param $src i32) (param $rowBytes i32) (param $k i32) (param $outW i32) (param $outH i32)
    (param $acc i32) (param $dst i32) (param $half i32) (param $rcp f32)
    (local $oy i32) (local $row i32) (local $span i32) (local $block i32) (local $i i32) (local $p i32)
    (local $r i32) (local $t i32) (local $e i32) (local $d i32) (local $x i32)
    (local $v v128) (local $lo v128) (local $hi v128) (local $s v128) (local $halfv v128) (local $rcpv v128)
    ;; Bytes of a frame row that whole blocks cover, and of $acc per block.
    (local.set $span (i32.mul (i32.mul (local.get $outW) (local.get $k)) (i32.const 3)))
    (local.set $block (i32.mul (local.get $k) (i32.const 6)))
    (local.set $halfv (i32x4.splat (local.get $half)))
    (local.set $rcpv (f32x4.splat (local.get $rcp)))
    (local.set $d (local.get $dst))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $oy) (local.get $outH)))
        (local.set $row (i32.add (local.get $src) (i32.mul (i32.mul (local.get $oy) (local.get $k)) (local.get $rowBytes))))
        ;; The block row's k frame rows summed, 16 bytes at a time.
        (local.set $i (i32.const 0))
        (block $strips_done
          (loop $strips
            (br_if $strips_done (i32.ge_u (local.get $i) (local.get $span)))
            (local.set $lo (v128.const i32x4 0 0 0 0))
            (local.set $hi (v128.const i32x4 0 0 0 0))
            (local.set $p (i32.add (local.get $row) (local.get $i)))
            (local.set $r (i32.const 0))
            (block $k_done
              (loop $krows
                (br_if $k_done (i32.ge_u (local.get $r) (local.get $k)))
                (local.set $v (v128.load (local.get $p)))
                (local.set $lo (i16x8.add (local.get $lo) (i16x8.extend_low_i8x16_u (local.get $v))))
                (local.set $hi (i16x8.add (local.get $hi) (i16x8.extend_high_i8x16_u (local.get $v))))
                (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
                (local.set $r (i32.add (local.get $r) (i32.const 1)))
                (br $krows)))
            (local.set $t (i32.add (local.get $acc) (i32.shl (local.get $i) (i32.const 1))))
            (v128.store (local.get $t) (local.get $lo))
            (v128.store offset=16 (local.get $t) (local.get $hi))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $strips)))
        ;; Each block: its k columns' sums, R, G, B in one vector, rounded, divided, stored as bytes.
        (local.set $p (local.get $acc))
        (local.set $e (i32.add (local.get $acc) (i32.mul (local.get $outW) (local.get $block))))
        (block $blocks_done
          (loop $blocks
            (br_if $blocks_done (i32.ge_u (local.get $p) (local.get $e)))
            (local.set $s (local.get $halfv))
            (local.set $t (local.get $p))
            (local.set $x (i32.const 0))
            (block $kx_done
              (loop $kx
                (br_if $kx_done (i32.ge_u (local.get $x) (local.get $k)))
                (local.set $s (i32x4.add (local.get $s) (i32x4.extend_low_i16x8_u (v128.load64_zero (local.get $t)))))
                (local.set $t (i32.add (local.get $t) (i32.const 6)))
                (local.set $x (i32.add (local.get $x) (i32.const 1)))
                (br $kx)))
            (local.set $v (i32x4.trunc_sat_f32x4_u (f32x4.mul (f32x4.convert_i32x4_u (local.get $s)) (local.get $rcpv))))
            (local.set $v (i16x8.narrow_i32x4_u (local.get $v) (local.get $v)))
            (v128.store32_lane 0 (local.get $d) (i8x16.narrow_i16x8_u (local.get $v) (local.get $v)))
            (local.set $d (i32.add (local.get $d) (i32.const 3)))
            (local.set $p (i32.add (local.get $p) (local.get $block)))
            (br $blocks)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $rows)))))
