;; The fast acceptor's walker (fast-accept.ts) in WebAssembly: one pass over a payload's bytes that
;; checks the JSON grammar and a compiled schema together, with the same verdicts as the JavaScript
;; walker, or "undecided" where this one does not compute the answer itself. Compiled by
;; `npm run build:wasm` into accept-wasm.ts; wasm-accept.ts lays the schema out in this memory and
;; calls `accept`.
;;
;; Every function answers 1 (accepted so far), 0 (refused: the full path gives the verdict and its
;; words) or 2 (undecided: the JavaScript walker decides, so the two can differ in speed only). It is
;; undecided about a number whose bound or finiteness sits within a relative 1e-12 of what its
;; approximation here can tell (JavaScript then computes it exactly with Number()), a captured
;; number that is not a plain integer, and more pattern checks than the table holds.
;;
;; Memory, all laid out by wasm-accept.ts (byte offsets):
;; - nodes, 88 bytes each: 0 kind, 4 flags, 8 required bits, 12 property slots (64 x i32, or 0),
;;   16 other properties' node (0: any value), 20 maxProperties, 24 and 28 key length bounds,
;;   32 items' node, 36 and 40 item count bounds, 44 enum values (a count, then pointer and length
;;   pairs; 0: none), 48 pattern (an index; -1: none), 52 and 56 string length bounds, 64 minimum,
;;   72 maximum, 80 exclusiveMinimum (f64). Unbounded integers are 0x7fffffff.
;; - properties, 24 bytes: 0 name, 4 name's length, 8 bit, 12 node, 16 capture (-1: none), 20 the
;;   next property in the same slot (0: none).
;; - the output at $out: captured numbers (f64 x 8), captured strings as start and end offsets into
;;   the payload (i32 pairs x 8) at +64, then at +128 a count of pattern checks and the checks at
;;   +132 (pattern, start, end: 12 bytes each, at most 32): JavaScript runs the patterns.
;; - the payload, with at least 16 zero bytes after its end: a string's scan and a key's compare
;;   read 16 bytes at a time, and a zero byte at the end stops every scan where JavaScript's
;;   undefined would. A name's compare also reads up to 15 bytes past the name: the output comes
;;   after every name.
;;
;; V8 (in Node 20) does not inline one WebAssembly function into another, and a call costs about
;; what a member's scan does: the hot steps (a key's scan and lookup, whitespace, digits) are written
;; out where they run.
(module
  (memory (export "memory") 1)

  ;; Where the walk is (an address), and the payload's first byte and end.
  (global $p (mut i32) (i32.const 0))
  (global $base (mut i32) (i32.const 0))
  (global $end (mut i32) (i32.const 0))
  (global $depth (mut i32) (i32.const 0))
  (global $maxDepth (mut i32) (i32.const 0))
  (global $out (mut i32) (i32.const 0))
  (global $anyObject (mut i32) (i32.const 0))
  (global $anyArray (mut i32) (i32.const 0))
  (global $anyNumber (mut i32) (i32.const 0))
  ;; A number rescanned as m x 10^e10 (at most 19 significant digits in m); $lead: the decimal
  ;; exponent of its first significant digit; $nonzero: whether it has one.
  (global $m (mut i64) (i64.const 0))
  (global $e10 (mut i32) (i32.const 0))
  (global $lead (mut i32) (i32.const 0))
  (global $nonzero (mut i32) (i32.const 0))
  ;; Whether its exponent was too long to read exactly (a million or more).
  (global $huge (mut i32) (i32.const 0))

  (func (export "init") (param $maxDepth i32) (param $out i32) (param $anyObject i32) (param $anyArray i32) (param $anyNumber i32)
    (global.set $maxDepth (local.get $maxDepth))
    (global.set $out (local.get $out))
    (global.set $anyObject (local.get $anyObject))
    (global.set $anyArray (local.get $anyArray))
    (global.set $anyNumber (local.get $anyNumber)))

  ;; Whether the n bytes at $at are one JSON value that the node at $root accepts: 1, 0 or 2.
  (func (export "accept") (param $root i32) (param $at i32) (param $n i32) (result i32)
    (local $r i32)
    (global.set $base (local.get $at))
    (global.set $end (i32.add (local.get $at) (local.get $n)))
    (global.set $depth (i32.const 0))
    (i32.store offset=128 (global.get $out) (i32.const 0))
    (global.set $p (call $skip (local.get $at)))
    (local.set $r (call $value (local.get $root) (i32.const -1) (i32.const 1)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (i32.eq (call $skip (global.get $p)) (global.get $end)))

  (func $isWs (param $c i32) (result i32)
    (i32.or
      (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 10)))
      (i32.or (i32.eq (local.get $c) (i32.const 13)) (i32.eq (local.get $c) (i32.const 9)))))

  ;; The first address from $q that is not JSON whitespace (or the end).
  (func $skip (param $q i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $q) (global.get $end)))
        (br_if $done (i32.eqz (call $isWs (i32.load8_u (local.get $q)))))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $next)))
    (local.get $q))

  ;; The closing quote of the string whose opening quote is at $q: printable ASCII, no escapes.
  ;; -1: not such a string. 16 bytes at a time: a byte below 32 or above 126, a quote or a backslash
  ;; stops the scan, and only a quote before the end closes the string.
  (func $stringEnd (param $q i32) (result i32)
    (local $v v128) (local $bits i32)
    (local.set $q (i32.add (local.get $q) (i32.const 1)))
    (loop $chunk
      (local.set $v (v128.load (local.get $q)))
      (local.set $bits (i8x16.bitmask
        (v128.or
          (v128.or (i8x16.lt_u (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                   (i8x16.gt_u (local.get $v) (v128.const i8x16 126 126 126 126 126 126 126 126 126 126 126 126 126 126 126 126)))
          (v128.or (i8x16.eq (local.get $v) (v128.const i8x16 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34))
                   (i8x16.eq (local.get $v) (v128.const i8x16 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92))))))
      (if (i32.eqz (local.get $bits))
        (then
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (br $chunk))))
    (local.set $q (i32.add (local.get $q) (i32.ctz (local.get $bits))))
    (if (result i32) (i32.and (i32.lt_u (local.get $q) (global.get $end)) (i32.eq (i32.load8_u (local.get $q)) (i32.const 34)))
      (then (local.get $q))
      (else (i32.const -1))))

  ;; Whether the $n bytes at $a and at $b are the same.
  (func $same (param $a i32) (param $b i32) (param $n i32) (result i32)
    (local $k i32)
    (block $differ
      (loop $next
        (if (i32.ge_u (local.get $k) (local.get $n)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $k))) (i32.load8_u (i32.add (local.get $b) (local.get $k)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; A literal at $p: its first four bytes as a little-endian word, and its length (4, or 5 for
  ;; false, whose fifth byte is an e).
  (func $literal (param $word i32) (param $length i32) (result i32)
    (if (i32.gt_u (i32.add (global.get $p) (local.get $length)) (global.get $end)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load (global.get $p)) (local.get $word)) (then (return (i32.const 0))))
    (if (i32.eq (local.get $length) (i32.const 5))
      (then (if (i32.ne (i32.load8_u offset=4 (global.get $p)) (i32.const 101)) (then (return (i32.const 0))))))
    (global.set $p (i32.add (global.get $p) (local.get $length)))
    (i32.const 1))

  (func $null (result i32) (call $literal (i32.const 0x6c6c756e) (i32.const 4)))
  (func $true (result i32) (call $literal (i32.const 0x65757274) (i32.const 4)))
  (func $false (result i32) (call $literal (i32.const 0x736c6166) (i32.const 5)))

  ;; The value at $p against the node at $node; leaves $p past it.
  (func $value (param $node i32) (param $capture i32) (param $top i32) (result i32)
    (local $c i32) (local $k i32)
    (local.set $c (i32.load8_u (global.get $p)))
    (local.set $k (i32.load (local.get $node)))
    (if (i32.eq (local.get $k) (i32.const 1))
      (then (return (if (result i32) (i32.eq (local.get $c) (i32.const 123)) (then (call $object (local.get $node) (local.get $top))) (else (i32.const 0))))))
    (if (i32.eq (local.get $k) (i32.const 4))
      (then
        (if (i32.eq (local.get $c) (i32.const 110))
          (then (return (if (result i32) (i32.and (i32.load offset=4 (local.get $node)) (i32.const 2)) (then (call $null)) (else (i32.const 0))))))
        (return (call $number (local.get $node) (local.get $capture)))))
    (if (i32.eq (local.get $k) (i32.const 3))
      (then (return (if (result i32) (i32.eq (local.get $c) (i32.const 34)) (then (call $string (local.get $node) (local.get $capture))) (else (i32.const 0))))))
    (if (i32.eq (local.get $k) (i32.const 2))
      (then (return (if (result i32) (i32.eq (local.get $c) (i32.const 91)) (then (call $array (local.get $node))) (else (i32.const 0))))))
    (if (i32.eq (local.get $k) (i32.const 5))
      (then (return (if (result i32) (i32.eq (local.get $c) (i32.const 116)) (then (call $true)) (else (call $false))))))
    (if (i32.eq (local.get $k) (i32.const 6)) (then (return (call $null))))
    (call $any))

  ;; Any JSON value, within the depth limit: what the schema leaves open.
  (func $any (result i32)
    (local $c i32) (local $e i32)
    (local.set $c (i32.load8_u (global.get $p)))
    (if (i32.eq (local.get $c) (i32.const 123)) (then (return (call $object (global.get $anyObject) (i32.const 0)))))
    (if (i32.eq (local.get $c) (i32.const 91)) (then (return (call $array (global.get $anyArray)))))
    (if (i32.eq (local.get $c) (i32.const 34))
      (then
        (local.set $e (call $stringEnd (global.get $p)))
        (if (i32.lt_s (local.get $e) (i32.const 0)) (then (return (i32.const 0))))
        (global.set $p (i32.add (local.get $e) (i32.const 1)))
        (return (i32.const 1))))
    (if (i32.eq (local.get $c) (i32.const 116)) (then (return (call $true))))
    (if (i32.eq (local.get $c) (i32.const 102)) (then (return (call $false))))
    (if (i32.eq (local.get $c) (i32.const 110)) (then (return (call $null))))
    (call $number (global.get $anyNumber) (i32.const -1)))

  (func $string (param $node i32) (param $capture i32) (result i32)
    (local $start i32) (local $e i32) (local $length i32) (local $values i32) (local $count i32) (local $v i32)
    (local $pattern i32) (local $at i32)
    (local.set $start (i32.add (global.get $p) (i32.const 1)))
    (local.set $e (call $stringEnd (global.get $p)))
    (if (i32.lt_s (local.get $e) (i32.const 0)) (then (return (i32.const 0))))
    (local.set $length (i32.sub (local.get $e) (local.get $start)))
    (if (i32.or (i32.lt_s (local.get $length) (i32.load offset=52 (local.get $node))) (i32.gt_s (local.get $length) (i32.load offset=56 (local.get $node))))
      (then (return (i32.const 0))))
    (global.set $p (i32.add (local.get $e) (i32.const 1)))
    (local.set $values (i32.load offset=44 (local.get $node)))
    (if (local.get $values)
      (then
        (local.set $count (i32.load (local.get $values)))
        (block $none
          (loop $next
            (br_if $none (i32.ge_u (local.get $v) (local.get $count)))
            (local.set $at (i32.add (local.get $values) (i32.shl (local.get $v) (i32.const 3))))
            (if (i32.eq (i32.load offset=8 (local.get $at)) (local.get $length))
              (then
                (if (call $same (i32.load offset=4 (local.get $at)) (local.get $start) (local.get $length))
                  (then
                    (if (i32.ge_s (local.get $capture) (i32.const 0))
                      (then (f64.store (i32.add (global.get $out) (i32.shl (local.get $capture) (i32.const 3))) (f64.convert_i32_u (local.get $v)))))
                    (return (i32.const 1))))))
            (local.set $v (i32.add (local.get $v) (i32.const 1)))
            (br $next)))
        (return (i32.const 0))))
    (local.set $pattern (i32.load offset=48 (local.get $node)))
    (if (i32.ge_s (local.get $pattern) (i32.const 0))
      (then
        (local.set $count (i32.load offset=128 (global.get $out)))
        (if (i32.ge_u (local.get $count) (i32.const 32)) (then (return (i32.const 2))))
        (local.set $at (i32.add (i32.add (global.get $out) (i32.const 132)) (i32.mul (local.get $count) (i32.const 12))))
        (i32.store (local.get $at) (local.get $pattern))
        (i32.store offset=4 (local.get $at) (i32.sub (local.get $start) (global.get $base)))
        (i32.store offset=8 (local.get $at) (i32.sub (local.get $e) (global.get $base)))
        (i32.store offset=128 (global.get $out) (i32.add (local.get $count) (i32.const 1)))))
    (if (i32.ge_s (local.get $capture) (i32.const 0))
      (then
        (local.set $at (i32.add (i32.add (global.get $out) (i32.const 64)) (i32.shl (local.get $capture) (i32.const 3))))
        (i32.store (local.get $at) (i32.sub (local.get $start) (global.get $base)))
        (i32.store offset=4 (local.get $at) (i32.sub (local.get $e) (global.get $base)))))
    (i32.const 1))

  ;; JSON's number grammar, with the value computed only when a bound or a capture needs it; the
  ;; same steps as the JavaScript walker's number().
  (func $number (param $node i32) (param $capture i32) (result i32)
    (local $start i32) (local $q i32) (local $c i32) (local $negative i32) (local $digits i32) (local $whole i64)
    (local $fraction i32) (local $exponent i32) (local $exact i32) (local $flags i32) (local $r i32) (local $v f64) (local $rescanned i32)
    (local.set $start (global.get $p))
    (local.set $q (local.get $start))
    (local.set $negative (i32.eq (i32.load8_u (local.get $q)) (i32.const 45)))
    (if (local.get $negative) (then (local.set $q (i32.add (local.get $q) (i32.const 1)))))
    (local.set $c (i32.load8_u (local.get $q)))
    (if (i32.eq (local.get $c) (i32.const 48))
      (then
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (local.set $digits (i32.const 1)))
      (else
        (if (i32.ge_u (i32.sub (local.get $c) (i32.const 49)) (i32.const 9)) (then (return (i32.const 0))))
        (loop $int
          (local.set $whole (i64.add (i64.mul (local.get $whole) (i64.const 10)) (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48)))))
          (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (local.set $c (i32.load8_u (local.get $q)))
          (br_if $int (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10))))))
    (if (i32.eq (i32.load8_u (local.get $q)) (i32.const 46))
      (then
        (local.set $fraction (i32.const 1))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (if (i32.eqz (i32.lt_u (i32.sub (i32.load8_u (local.get $q)) (i32.const 48)) (i32.const 10))) (then (return (i32.const 0))))
        (loop $frac
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br_if $frac (i32.lt_u (i32.sub (i32.load8_u (local.get $q)) (i32.const 48)) (i32.const 10))))))
    (local.set $c (i32.load8_u (local.get $q)))
    (if (i32.or (i32.eq (local.get $c) (i32.const 101)) (i32.eq (local.get $c) (i32.const 69)))
      (then
        (local.set $exponent (i32.const 1))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (local.set $c (i32.load8_u (local.get $q)))
        (if (i32.or (i32.eq (local.get $c) (i32.const 43)) (i32.eq (local.get $c) (i32.const 45)))
          (then (local.set $q (i32.add (local.get $q) (i32.const 1)))))
        (if (i32.eqz (i32.lt_u (i32.sub (i32.load8_u (local.get $q)) (i32.const 48)) (i32.const 10))) (then (return (i32.const 0))))
        (loop $exp
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br_if $exp (i32.lt_u (i32.sub (i32.load8_u (local.get $q)) (i32.const 48)) (i32.const 10))))))
    (global.set $p (local.get $q))
    (local.set $exact (i32.and (i32.eqz (i32.or (local.get $fraction) (local.get $exponent))) (i32.le_u (local.get $digits) (i32.const 15))))
    (local.set $flags (i32.load offset=4 (local.get $node)))
    ;; flags: 1 integer, 2 nullable, 4 no maximum and no exclusiveMinimum, 8 no minimum, 16 minimum <= 0.
    (if (i32.and (i32.and (local.get $flags) (i32.const 1)) (i32.eqz (local.get $exact))) (then (return (i32.const 0))))
    ;; JSON.parse makes 1e400 Infinity, which is not a number to Ajv.
    (local.set $rescanned (i32.and (i32.eqz (local.get $exact)) (i32.or (local.get $exponent) (i32.gt_u (local.get $digits) (i32.const 300)))))
    (if (local.get $rescanned)
      (then
        (call $rescan (local.get $start) (local.get $q))
        (if (global.get $huge) (then (return (i32.const 2))))
        (if (global.get $nonzero)
          (then
            (if (i32.ge_s (global.get $lead) (i32.const 309)) (then (return (i32.const 0))))
            (if (i32.eq (global.get $lead) (i32.const 308)) (then (return (i32.const 2))))))))
    (if (i32.and (i32.lt_s (local.get $capture) (i32.const 0)) (i32.ne (i32.and (local.get $flags) (i32.const 4)) (i32.const 0)))
      (then
        (if (i32.or (i32.and (local.get $flags) (i32.const 8)) (i32.and (i32.eqz (local.get $negative)) (i32.ne (i32.and (local.get $flags) (i32.const 16)) (i32.const 0))))
          (then (return (i32.const 1))))))
    (if (local.get $exact)
      (then
        (local.set $v (f64.convert_i64_u (local.get $whole)))
        (if (local.get $negative) (then (local.set $v (f64.neg (local.get $v)))))
        (if (i32.eqz (call $within (local.get $node) (local.get $v) (i32.const 0))) (then (return (i32.const 0)))))
      (else
        (if (i32.ge_s (local.get $capture) (i32.const 0)) (then (return (i32.const 2))))
        ;; Read once: above for its finiteness, or here (then without an exponent, never $huge).
        (if (i32.eqz (local.get $rescanned)) (then (call $rescan (local.get $start) (local.get $q))))
        (local.set $v (call $approximate (local.get $negative)))
        (if (f64.ne (local.get $v) (local.get $v)) (then (return (i32.const 2))))
        ;; A zero is exact.
        (local.set $r (call $within (local.get $node) (local.get $v) (i64.ne (global.get $m) (i64.const 0))))
        (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))))
    (if (i32.ge_s (local.get $capture) (i32.const 0))
      (then (f64.store (i32.add (global.get $out) (i32.shl (local.get $capture) (i32.const 3))) (local.get $v))))
    (i32.const 1))

  ;; Whether $v is within the node's bounds: minimum <= v <= maximum, v > exclusiveMinimum. An
  ;; approximate $v within a relative 1e-12 of a finite bound is undecided (2).
  (func $within (param $node i32) (param $v f64) (param $approximate i32) (result i32)
    (local $min f64) (local $max f64) (local $exMin f64)
    (local.set $min (f64.load offset=64 (local.get $node)))
    (local.set $max (f64.load offset=72 (local.get $node)))
    (local.set $exMin (f64.load offset=80 (local.get $node)))
    (if (local.get $approximate)
      (then
        (if (i32.or (i32.or (call $near (local.get $v) (local.get $min)) (call $near (local.get $v) (local.get $max))) (call $near (local.get $v) (local.get $exMin)))
          (then (return (i32.const 2))))))
    (i32.and (i32.and (f64.ge (local.get $v) (local.get $min)) (f64.le (local.get $v) (local.get $max))) (f64.gt (local.get $v) (local.get $exMin))))

  (func $near (param $v f64) (param $bound f64) (result i32)
    (i32.and
      (f64.lt (f64.abs (local.get $bound)) (f64.const inf))
      (f64.le (f64.abs (f64.sub (local.get $v) (local.get $bound))) (f64.mul (f64.abs (local.get $bound)) (f64.const 1e-12)))))

  ;; Reads the number between $q and $stop (its grammar already checked) as $m x 10^$e10, and the
  ;; decimal exponent of its first significant digit ($lead, when $nonzero).
  (func $rescan (param $q i32) (param $stop i32)
    (local $c i32) (local $d i32) (local $kept i32) (local $int i32) (local $fraction i32) (local $e i32) (local $minus i32) (local $seen i32)
    (global.set $m (i64.const 0))
    (global.set $e10 (i32.const 0))
    (global.set $nonzero (i32.const 0))
    (global.set $huge (i32.const 0))
    (if (i32.eq (i32.load8_u (local.get $q)) (i32.const 45)) (then (local.set $q (i32.add (local.get $q) (i32.const 1)))))
    ;; The digits before the point, then after it.
    (block $digits_done
      (loop $digits
        (br_if $digits_done (i32.ge_u (local.get $q) (local.get $stop)))
        (local.set $c (i32.load8_u (local.get $q)))
        (if (i32.eq (local.get $c) (i32.const 46))
          (then
            (local.set $fraction (i32.const 1))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $digits)))
        (br_if $digits_done (i32.eqz (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10))))
        (local.set $d (i32.sub (local.get $c) (i32.const 48)))
        (if (i32.and (i32.ne (local.get $d) (i32.const 0)) (i32.eqz (global.get $nonzero)))
          (then
            (global.set $nonzero (i32.const 1))
            ;; Counted from the point: the int-th digit before it, or the seen-th after it.
            (global.set $lead (if (result i32) (local.get $fraction) (then (i32.sub (i32.const -1) (local.get $seen))) (else (local.get $int))))))
        (if (i32.lt_u (local.get $kept) (i32.const 19))
          (then
            (global.set $m (i64.add (i64.mul (global.get $m) (i64.const 10)) (i64.extend_i32_u (local.get $d))))
            (if (global.get $nonzero) (then (local.set $kept (i32.add (local.get $kept) (i32.const 1)))))
            (if (local.get $fraction) (then (global.set $e10 (i32.sub (global.get $e10) (i32.const 1))))))
          (else
            (if (i32.eqz (local.get $fraction)) (then (global.set $e10 (i32.add (global.get $e10) (i32.const 1)))))))
        (if (local.get $fraction)
          (then (local.set $seen (i32.add (local.get $seen) (i32.const 1))))
          (else (local.set $int (i32.add (local.get $int) (i32.const 1)))))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $digits)))
    ;; $lead so far counts the first significant digit's place among the int digits from the left;
    ;; from the point, it is the int digits after it.
    (if (i32.and (global.get $nonzero) (i32.ge_s (global.get $lead) (i32.const 0)))
      (then (global.set $lead (i32.sub (i32.sub (local.get $int) (i32.const 1)) (global.get $lead)))))
    ;; The exponent, up to a million; past that $huge: a million digits of the number's own could
    ;; still cancel it, so only JavaScript can tell.
    (if (i32.lt_u (local.get $q) (local.get $stop))
      (then
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (local.set $c (i32.load8_u (local.get $q)))
        (if (i32.or (i32.eq (local.get $c) (i32.const 43)) (i32.eq (local.get $c) (i32.const 45)))
          (then
            (local.set $minus (i32.eq (local.get $c) (i32.const 45)))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))))
        (block $exp_done
          (loop $exp
            (br_if $exp_done (i32.ge_u (local.get $q) (local.get $stop)))
            (if (i32.lt_u (local.get $e) (i32.const 1000000))
              (then (local.set $e (i32.add (i32.mul (local.get $e) (i32.const 10)) (i32.sub (i32.load8_u (local.get $q)) (i32.const 48))))))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $exp)))
        (if (i32.ge_u (local.get $e) (i32.const 1000000)) (then (global.set $huge (i32.const 1))))
        (if (local.get $minus) (then (local.set $e (i32.sub (i32.const 0) (local.get $e)))))
        (global.set $e10 (i32.add (global.get $e10) (local.get $e)))
        (global.set $lead (i32.add (global.get $lead) (local.get $e))))))

  ;; $m x 10^$e10 as a double, within a relative 2e-15 of the number; NaN where that cannot be
  ;; promised here (past 10^22, or below 10^-280).
  (func $approximate (param $negative i32) (result f64)
    (local $v f64) (local $k i32)
    (local.set $v (f64.convert_i64_u (global.get $m)))
    (if (i64.ne (global.get $m) (i64.const 0))
      (then
        (if (i32.gt_s (global.get $e10) (i32.const 22)) (then (return (f64.const nan))))
        (if (i32.lt_s (global.get $e10) (i32.const -280)) (then (return (f64.const nan))))
        (if (i32.ge_s (global.get $e10) (i32.const 0))
          (then (local.set $v (f64.mul (local.get $v) (call $pow10 (global.get $e10)))))
          (else
            (local.set $k (i32.sub (i32.const 0) (global.get $e10)))
            (block $done
              (loop $big
                (br_if $done (i32.le_s (local.get $k) (i32.const 22)))
                (local.set $v (f64.div (local.get $v) (f64.const 1e22)))
                (local.set $k (i32.sub (local.get $k) (i32.const 22)))
                (br $big)))
            (local.set $v (f64.div (local.get $v) (call $pow10 (local.get $k))))))))
    (if (result f64) (local.get $negative) (then (f64.neg (local.get $v))) (else (local.get $v))))

  ;; 10^k for 0 <= k <= 22, exactly (each step's product is a double).
  (func $pow10 (param $k i32) (result f64)
    (local $v f64)
    (local.set $v (f64.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.le_s (local.get $k) (i32.const 0)))
        (local.set $v (f64.mul (local.get $v) (f64.const 10)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $next)))
    (local.get $v))

  (func $object (param $node i32) (param $top i32) (result i32)
    (local $q i32) (local $start i32) (local $e i32) (local $length i32) (local $prop i32) (local $props i32)
    (local $seen i32) (local $count i32) (local $bit i32) (local $r i32) (local $c i32) (local $extra i32)
    (local $v v128) (local $bits i32) (local $name i32) (local $o i32) (local $want i32)
    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
    (if (i32.gt_s (global.get $depth) (global.get $maxDepth)) (then (return (i32.const 0))))
    (local.set $q (i32.add (global.get $p) (i32.const 1)))
    (if (i32.le_u (i32.load8_u (local.get $q)) (i32.const 32)) (then (local.set $q (call $skip (local.get $q)))))
    (if (i32.eq (i32.load8_u (local.get $q)) (i32.const 125))
      (then
        (global.set $p (i32.add (local.get $q) (i32.const 1)))
        (global.set $depth (i32.sub (global.get $depth) (i32.const 1)))
        (return (i32.eqz (i32.load offset=8 (local.get $node))))))
    (local.set $props (i32.load offset=12 (local.get $node)))
    (local.set $extra (i32.load offset=16 (local.get $node)))
    (loop $members
      (if (i32.ne (i32.load8_u (local.get $q)) (i32.const 34)) (then (return (i32.const 0))))
      ;; The key, scanned as $stringEnd does (inlined: a call per key costs more than the scan).
      (local.set $start (i32.add (local.get $q) (i32.const 1)))
      (local.set $e (local.get $start))
      (loop $chunk
        (local.set $v (v128.load (local.get $e)))
        (local.set $bits (i8x16.bitmask
          (v128.or
            (v128.or (i8x16.lt_u (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                     (i8x16.gt_u (local.get $v) (v128.const i8x16 126 126 126 126 126 126 126 126 126 126 126 126 126 126 126 126)))
            (v128.or (i8x16.eq (local.get $v) (v128.const i8x16 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34))
                     (i8x16.eq (local.get $v) (v128.const i8x16 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92))))))
        (if (i32.eqz (local.get $bits))
          (then
            (local.set $e (i32.add (local.get $e) (i32.const 16)))
            (br $chunk))))
      (local.set $e (i32.add (local.get $e) (i32.ctz (local.get $bits))))
      (if (i32.or (i32.ge_u (local.get $e) (global.get $end)) (i32.ne (i32.load8_u (local.get $e)) (i32.const 34))) (then (return (i32.const 0))))
      (local.set $length (i32.sub (local.get $e) (local.get $start)))
      ;; Its property: the chain of its slot (slotOf), each name compared 16 bytes at a time.
      (local.set $prop (i32.const 0))
      (if (i32.and (i32.ne (local.get $props) (i32.const 0)) (i32.gt_s (local.get $length) (i32.const 0)))
        (then
          (local.set $prop (i32.load
            (i32.add (local.get $props)
              (i32.shl
                (i32.and
                  (i32.add
                    (i32.add (i32.mul (local.get $length) (i32.const 31)) (i32.mul (i32.load8_u (local.get $start)) (i32.const 7)))
                    (i32.load8_u (i32.sub (local.get $e) (i32.const 1))))
                  (i32.const 63))
                (i32.const 2)))))
          (block $found
            (loop $chain
              (br_if $found (i32.eqz (local.get $prop)))
              (if (i32.eq (i32.load offset=4 (local.get $prop)) (local.get $length))
                (then
                  (local.set $name (i32.load (local.get $prop)))
                  (local.set $o (i32.const 0))
                  (block $differ
                    (loop $compare
                      (br_if $found (i32.ge_s (local.get $o) (local.get $length)))
                      (local.set $want (i32.sub (local.get $length) (local.get $o)))
                      (local.set $want (if (result i32) (i32.ge_s (local.get $want) (i32.const 16))
                        (then (i32.const 0xffff))
                        (else (i32.sub (i32.shl (i32.const 1) (local.get $want)) (i32.const 1)))))
                      (br_if $differ (i32.ne
                        (i32.and (local.get $want) (i8x16.bitmask (i8x16.eq
                          (v128.load (i32.add (local.get $name) (local.get $o)))
                          (v128.load (i32.add (local.get $start) (local.get $o))))))
                        (local.get $want)))
                      (local.set $o (i32.add (local.get $o) (i32.const 16)))
                      (br $compare)))))
              (local.set $prop (i32.load offset=20 (local.get $prop)))
              (br $chain)))))
      (local.set $count (i32.add (local.get $count) (i32.const 1)))
      (if (i32.or
            (i32.or (i32.lt_s (local.get $length) (i32.load offset=24 (local.get $node))) (i32.gt_s (local.get $length) (i32.load offset=28 (local.get $node))))
            (i32.gt_s (local.get $count) (i32.load offset=20 (local.get $node))))
        (then (return (i32.const 0))))
      (local.set $q (i32.add (local.get $e) (i32.const 1)))
      (if (i32.le_u (i32.load8_u (local.get $q)) (i32.const 32)) (then (local.set $q (call $skip (local.get $q)))))
      (if (i32.ne (i32.load8_u (local.get $q)) (i32.const 58)) (then (return (i32.const 0))))
      (local.set $q (i32.add (local.get $q) (i32.const 1)))
      (if (i32.le_u (i32.load8_u (local.get $q)) (i32.const 32)) (then (local.set $q (call $skip (local.get $q)))))
      (global.set $p (local.get $q))
      (if (local.get $prop)
        (then
          (local.set $bit (i32.load offset=8 (local.get $prop)))
          ;; The same property twice: which one counts is the full path's question.
          (if (i32.and (local.get $seen) (local.get $bit)) (then (return (i32.const 0))))
          (local.set $seen (i32.or (local.get $seen) (local.get $bit)))
          (local.set $r (call $value
            (i32.load offset=12 (local.get $prop))
            (if (result i32) (local.get $top) (then (i32.load offset=16 (local.get $prop))) (else (i32.const -1)))
            (i32.const 0))))
        (else
          (local.set $r
            (if (result i32) (local.get $extra)
              (then (call $value (local.get $extra) (i32.const -1) (i32.const 0)))
              (else (call $any))))))
      (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
      (local.set $q (global.get $p))
      (if (i32.le_u (i32.load8_u (local.get $q)) (i32.const 32)) (then (local.set $q (call $skip (local.get $q)))))
      (local.set $c (i32.load8_u (local.get $q)))
      (local.set $q (i32.add (local.get $q) (i32.const 1)))
      (if (i32.ne (local.get $c) (i32.const 125))
        (then
          (if (i32.ne (local.get $c) (i32.const 44)) (then (return (i32.const 0))))
          (local.set $q (local.get $q))
          (if (i32.le_u (i32.load8_u (local.get $q)) (i32.const 32)) (then (local.set $q (call $skip (local.get $q)))))
          (br $members))))
    (global.set $p (local.get $q))
    (global.set $depth (i32.sub (global.get $depth) (i32.const 1)))
    (i32.eq (i32.and (local.get $seen) (i32.load offset=8 (local.get $node))) (i32.load offset=8 (local.get $node))))

  (func $array (param $node i32) (result i32)
    (local $q i32) (local $items i32) (local $count i32) (local $r i32) (local $c i32)
    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
    (if (i32.gt_s (global.get $depth) (global.get $maxDepth)) (then (return (i32.const 0))))
    (local.set $items (i32.load offset=32 (local.get $node)))
    (local.set $q (i32.add (global.get $p) (i32.const 1)))
    (if (i32.le_u (i32.load8_u (local.get $q)) (i32.const 32)) (then (local.set $q (call $skip (local.get $q)))))
    (if (i32.eq (i32.load8_u (local.get $q)) (i32.const 93))
      (then (local.set $q (i32.add (local.get $q) (i32.const 1))))
      (else
        (loop $items
          (global.set $p (local.get $q))
          (local.set $count (i32.add (local.get $count) (i32.const 1)))
          (if (i32.gt_s (local.get $count) (i32.load offset=40 (local.get $node))) (then (return (i32.const 0))))
          (local.set $r (call $value (local.get $items) (i32.const -1) (i32.const 0)))
          (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
          (local.set $q (global.get $p))
          (if (i32.le_u (i32.load8_u (local.get $q)) (i32.const 32)) (then (local.set $q (call $skip (local.get $q)))))
          (local.set $c (i32.load8_u (local.get $q)))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (if (i32.ne (local.get $c) (i32.const 93))
            (then
              (if (i32.ne (local.get $c) (i32.const 44)) (then (return (i32.const 0))))
              (local.set $q (local.get $q))
              (if (i32.le_u (i32.load8_u (local.get $q)) (i32.const 32)) (then (local.set $q (call $skip (local.get $q)))))
              (br $items))))))
    (global.set $p (local.get $q))
    (global.set $depth (i32.sub (global.get $depth) (i32.const 1)))
    (i32.ge_s (local.get $count) (i32.load offset=36 (local.get $node)))))
