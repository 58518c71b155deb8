// RUN: irq-opt %s --print-debuginfo --allow-unregistered-dialect | filecheck %s
// RUN: irq-opt %s --print-debuginfo --allow-unregistered-dialect | irq-opt --print-debuginfo --allow-unregistered-dialect | filecheck %s
// RUN: irq-opt %s --print-debuginfo --mlir-print-local-scope --allow-unregistered-dialect | filecheck %s --check-prefix=LOCAL
//
// Locations through `#loc` aliases, as mlir-opt --mlir-print-debuginfo prints them (written for
// irq after mlir/test/IR/locations.mlir and pretty-locations.mlir; the CHECK lines are what
// MLIR C++ prints for this file): an op's location by alias,
// a block argument's inline with its parts by alias, a location used as an attribute by alias
// and defined at the top; aliases used only by ops defined after the module. Printing what was
// printed gives the same text (the second RUN line).

// CHECK: #loc1 = loc("a.py":3:4)
// CHECK-NEXT: #loc2 = loc("x.py":1:1)
// CHECK-NEXT: module {
// CHECK-NEXT:   func.func @f(%arg0: i32 loc("x.py":1:1)) -> i32 {
// CHECK-NEXT:     %0 = arith.addi %arg0, %arg0 : i32 loc(#loc1)
// CHECK-NEXT:     %1 = arith.addi %0, %arg0 : i32 loc(#loc5)
// CHECK-NEXT:     "t.a"() {l = #loc1} : () -> () loc(#loc6)
// CHECK-NEXT:     return %1 : i32 loc(#loc3)
// CHECK-NEXT:   } loc(#loc1)
// CHECK-NEXT: } loc(#loc)
// CHECK-NEXT: #loc = loc("m.py":9:9)
// CHECK-NEXT: #loc3 = loc("b.py":5:6)
// CHECK-NEXT: #loc4 = loc("c.py":1:2)
// CHECK-NEXT: #loc5 = loc("n"(#loc3))
// CHECK-NEXT: #loc6 = loc(fused[#loc1, #loc4])

// LOCAL:     %1 = arith.addi %0, %arg0 : i32 loc("n"("b.py":5:6))
// LOCAL:     "t.a"() {l = loc("a.py":3:4)} : () -> () loc(fused["a.py":3:4, "c.py":1:2])

#site = loc("a.py":3:4)
module {
  func.func @f(%arg0: i32 loc("x.py":1:1)) -> i32 {
    %0 = arith.addi %arg0, %arg0 : i32 loc(#site)
    %1 = arith.addi %0, %arg0 : i32 loc("n"("b.py":5:6))
    "t.a"() {l = #site} : () -> () loc(fused[#site, "c.py":1:2])
    return %1 : i32 loc("b.py":5:6)
  } loc(#site)
} loc("m.py":9:9)
