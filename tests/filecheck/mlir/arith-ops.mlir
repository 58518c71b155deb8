// RUN: irq-opt %s | filecheck %s
// RUN: irq-opt %s --generic | irq-opt | filecheck %s
//
// arith's custom forms, read and printed back (also through the generic form). Written for irq
// after mlir/test/Dialect/Arith/ops.mlir; folding is checked against MLIR itself in
// tests/test_arith_folding.py.

// CHECK-LABEL: func.func @ops
func.func @ops(%a: i32, %b: i32, %x: f32, %y: f32, %v: vector<4xi32>, %w: vector<4xi32>) -> i32 {
  // CHECK-NEXT: %0 = arith.divsi %a, %b : i32
  %0 = arith.divsi %a, %b : i32
  // CHECK-NEXT: %1 = arith.cmpi ult, %a, %b : i32
  %1 = arith.cmpi ult, %a, %b : i32
  // CHECK-NEXT: %2 = arith.cmpf uno, %x, %y : f32
  %2 = arith.cmpf uno, %x, %y : f32
  // CHECK-NEXT: %3 = arith.select %1, %a, %0 : i32
  %3 = arith.select %1, %a, %0 : i32
  // CHECK-NEXT: %4 = arith.cmpi sge, %v, %w : vector<4xi32>
  // CHECK-NEXT: %5 = arith.select %4, %v, %w : vector<4xi1>, vector<4xi32>
  %4 = arith.cmpi sge, %v, %w : vector<4xi32>
  %5 = arith.select %4, %v, %w : vector<4xi1>, vector<4xi32>
  // CHECK-NEXT: %6 = arith.extui %a : i32 to i64
  // CHECK-NEXT: %7 = arith.trunci %6 : i64 to i8
  // CHECK-NEXT: %8 = arith.uitofp %7 : i8 to f16
  // CHECK-NEXT: %9 = arith.index_castui %a : i32 to index
  // CHECK-NEXT: %10 = arith.bitcast %x : f32 to i32
  %6 = arith.extui %a : i32 to i64
  %7 = arith.trunci %6 : i64 to i8
  %8 = arith.uitofp %7 : i8 to f16
  %9 = arith.index_castui %a : i32 to index
  %10 = arith.bitcast %x : f32 to i32
  // CHECK-NEXT: %sum, %overflow = arith.addui_extended %a, %b : i32, i1
  // CHECK-NEXT: %low, %high = arith.mului_extended %a, %b : i32
  %sum, %overflow = arith.addui_extended %a, %b : i32, i1
  %low, %high = arith.mului_extended %a, %b : i32
  // MLIR's generic printer adds default flags; they are the absence of a flag.
  // CHECK-NEXT: %11 = arith.addi %a, %b : i32
  %11 = "arith.addi"(%a, %b) <{overflowFlags = #arith.overflow<none>}> : (i32, i32) -> i32
  // CHECK-NEXT: return %3 : i32
  return %3 : i32
}
