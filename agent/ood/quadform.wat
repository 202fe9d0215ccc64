;; |W r|^2 for a lower-triangular W stored by rows, each row zero-padded to a multiple of 4 floats,
;; and r zero-padded the same way: the squared Mahalanobis distance of a whitened detection
;; (agent/ood/detection-ood.ts). Four products per instruction (f32x4): the same sum in JavaScript,
;; one double at a time, took five times as long, and this is the part of detection-level OOD scoring
;; that grows with the square of the feature count.
;;
;; Source of agent/ood/quadform-wasm.ts: edit here, then run `npm run build:wasm`.
(module
  (memory (export "memory") 1)
  ;; w, r: byte offsets of the padded rows and of r; d: rows. Returns sum over rows of (row . r)^2,
  ;; each row's dot product in f32 and the sum of squares in f64.
  (func (export "quad") (param $w i32) (param $r i32) (param $d i32) (result f64)
    (local $i i32) (local $k i32) (local $n i32) (local $acc v128) (local $total f64) (local $s f32)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $i) (local.get $d)))
        ;; bytes in row i: (i + 1) rounded up to a multiple of 4 floats, times 4
        (local.set $n (i32.shl (i32.and (i32.add (local.get $i) (i32.const 4)) (i32.const -4)) (i32.const 2)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (loop $col
          (local.set $acc (f32x4.add (local.get $acc)
            (f32x4.mul (v128.load (i32.add (local.get $w) (local.get $k)))
                       (v128.load (i32.add (local.get $r) (local.get $k))))))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $col (i32.lt_u (local.get $k) (local.get $n))))
        (local.set $s (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $total (f64.add (local.get $total)
          (f64.mul (f64.promote_f32 (local.get $s)) (f64.promote_f32 (local.get $s)))))
        (local.set $w (i32.add (local.get $w) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row)))
    (local.get $total))
)
