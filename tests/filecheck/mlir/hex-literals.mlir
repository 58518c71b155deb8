// RUN: irq-opt %s --allow-unregistered-dialect | filecheck %s
// RUN: irq-opt %s --allow-unregistered-dialect --generic | irq-opt --allow-unregistered-dialect | filecheck %s
//
// Hex literals as MLIR reads them: an integer may be negative hex (`-0x10 : i32` is -16); a float
// written in hex is its bit pattern (inf, -inf, NaN with payload, f16/bf16 widths) and prints back
// as hex where the decimal would not read back to the same bits. Written for irq after
// llvm-project mlir/test/IR/attribute.mlir and mlir/test/IR/parser.mlir (hexadecimal floats).

// CHECK: "t.c"() {a = -16 : i32, b = 16 : i8, c = -128 : i8} : () -> ()
"t.c"() {a = -0x10 : i32, b = 0x10 : i8, c = -0x80 : i8} : () -> ()
// CHECK: "t.f"() {b = 0x7FC0 : bf16, d = 0x7FF0000000000000 : f64, h = 0x7E00 : f16, inf = 0x7F800000 : f32, nan = 0x7FC00001 : f32, ninf = 0xFF800000 : f32} : () -> ()
"t.f"() {inf = 0x7F800000 : f32, ninf = 0xFF800000 : f32, nan = 0x7FC00001 : f32, h = 0x7E00 : f16, b = 0x7FC0 : bf16, d = 0x7FF0000000000000 : f64} : () -> ()
// CHECK: %{{.*}} = arith.constant -1 : i64
%0 = arith.constant -0x1 : i64
// CHECK: "t.g"() {one = 1.0 : f32} : () -> ()
"t.g"() {one = 0x3F800000 : f32} : () -> ()
