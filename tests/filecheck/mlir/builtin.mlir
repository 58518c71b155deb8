// RUN: irq-opt %s --split-input-file --allow-unregistered-dialect | filecheck %s
//
// Builtin attributes and ops read as MLIR writes them. Written for irq after
// mlir/test/IR/affine-map.mlir, mlir/test/IR/integer-set.mlir, mlir/test/IR/parser.mlir
// (spaced shapes) and mlir/test/Dialect/Func/func-bufferize.mlir style func.constant uses.

// Affine maps and sets are checked (see invalid.mlir) and kept as written, printed through
// aliases defined at the top as mlir-opt prints them; `>=` inside a set does not close the attribute.
// CHECK: #map = affine_map<(d0)[s0] -> (d0 * s0 + 3, d0 floordiv 2, (d0 + 1) mod s0)>
// CHECK-NEXT: #set = affine_set<(d0)[s0] : (d0 >= 0, -d0 + s0 - 1 >= 0, d0 mod 2 == 0)>
// CHECK: "t.a"() {m = #map, s = #set} : () -> ()
"t.a"() {m = affine_map<(d0)[s0] -> (d0 * s0 + 3, d0 floordiv 2, (d0 + 1) mod s0)>,
         s = affine_set<(d0)[s0] : (d0 >= 0, -d0 + s0 - 1 >= 0, d0 mod 2 == 0)>} : () -> ()

// -----

// Blanks around the `x` of a shape, as MLIR's own printer never writes but its parser takes.
// CHECK: () -> (vector<1xf32>, tensor<*xf32>, tensor<2x?x3xi8>)
"t.a"() : () -> (vector<1 x f32>, tensor<* x f32>, tensor<2 x ? x 3xi8>)

// -----

// A function as a value.
// CHECK-LABEL: func.func @f
// CHECK: %0 = constant @g : (i32) -> i32
// CHECK: %1 = call_indirect %0(%a) : (i32) -> i32
func.func @g(%x: i32) -> i32 {
  return %x : i32
}
func.func @f(%a: i32) -> i32 {
  %0 = func.constant @g : (i32) -> i32
  %1 = func.call_indirect %0(%a) : (i32) -> i32
  return %1 : i32
}

// -----

// Typed attributes in attribute position keep their type; a scalable vector dimension is in
// brackets; i0 is a type (mlir/test/IR/parser.mlir, mlir/test/IR/invalid-builtin-types.mlir).
// CHECK: "t.a"() {d = #foo.attr : i32, s = "s" : !foo.string} : () -> (vector<[4]xf32>, vector<2x[4]xi1>, i0)
"t.a"() {s = "s" : !foo.string, d = #foo.attr : i32} : () -> (vector<[4]xf32>, vector<2x[4]xi1>, i0)

// -----

// sparse<...>: an all-equal index or value list prints as its element, as mlir-opt prints it.
// CHECK: "t.a"() {sp = sparse<0, 1.0> : tensor<2x2xf32>} : () -> ()
"t.a"() {sp = sparse<[[0, 0]], [1.0]> : tensor<2x2xf32>} : () -> ()

// -----

// A memref layout may be an alias, as mlir-opt prints it; aliases are numbered anew in the order
// MLIR visits them (a generic op's result types before its attributes), byte for byte as mlir-opt.
// CHECK: #map = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-NEXT: #map1 = affine_map<(d0) -> (d0)>
// CHECK: "t.a"() {m = #map1} : () -> memref<2x3xf32, #map>
#map = affine_map<(d0, d1) -> (d1, d0)>
#id = affine_map<(d0) -> (d0)>
"t.a"() {m = #id} : () -> memref<2x3xf32, #map>

// -----

// memref: shape, element type, layout (strided or an affine map), memory space
// (mlir/test/IR/parser.mlir, mlir/test/Dialect/Builtin/types.mlir).
// CHECK: #map = affine_map<(d0, d1) -> (d1, d0)>
// CHECK: () -> (memref<4x?xf32>, memref<4x4xf32, strided<[4, 1], offset: ?>>, memref<*xf32, 1>, memref<2x3xf32, #map, "gpu">)
"t.a"() : () -> (memref<4x?xf32>, memref<4x4xf32, strided<[4, 1], offset: ?>>, memref<*xf32, 1>, memref<2x3xf32, affine_map<(d0, d1) -> (d1, d0)>, "gpu">)

// -----

// distinct attributes (mlir/test/IR/distinct-attr.mlir) print by alias, as mlir-opt prints them
// (renumbered from 0 in alias order: tests/test_mlir_print_fidelity.py).
// CHECK: #distinct = distinct[0]<42 : i32>
// CHECK-NEXT: #distinct1 = distinct[1]<#foo.x>
// CHECK: "t.a"() {a = #distinct, b = [#distinct1], c = #distinct} : () -> ()
"t.a"() {a = distinct[0]<42 : i32>, b = [distinct[1]<#foo.x>], c = distinct[0]<42 : i32>} : () -> ()

// -----

// Dense elements of any integer width up to 64 bits; signless values print signed, as MLIR's
// printer does (mlir/test/IR/dense-elements-type-interface.mlir, parser.mlir).
// CHECK: "t.a"() {a = dense<[1, -1, -4]> : tensor<3xi3>, b = dense<[0, 15]> : tensor<2xui4>, c = dense<5> : tensor<4xsi5>} : () -> ()
"t.a"() {a = dense<[1, 7, -4]> : tensor<3xi3>, b = dense<[0, 15]> : tensor<2xui4>, c = dense<5> : tensor<4xsi5>} : () -> ()

// -----

// Entry-block arguments written under a type-only signature (mlir/test/IR/parser.mlir): the
// label names the arguments the signature only typed; they print in the signature.
// CHECK-LABEL: func.func @typed_only(%a: i32, %b: f32) -> i32 {
// CHECK-NEXT: return %a : i32
func.func @typed_only(i32, f32) -> i32 {
^bb0(%a: i32, %b: f32):
  return %a : i32
}
