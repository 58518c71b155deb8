// RUN: irq-opt %s --allow-unregistered-dialect | filecheck %s
// RUN: irq-opt %s --allow-unregistered-dialect --generic | irq-opt --allow-unregistered-dialect | filecheck %s
// RUN: irq-opt %s --allow-unregistered-dialect --generic | filecheck %s --check-prefix=GENERIC
//
// The module's properties in its custom form: mlir-opt prints `<sym_visibility = "private">` and
// reads that or `<{...}>`. Written for irq after llvm-project mlir/test/IR/module-op.mlir and the
// property syntax of mlir/test/IR/properties.mlir (`<{...}>` and the bare `<...>` form).

// CHECK: module @outer <sym_visibility = "private"> attributes {t.note = "n"} {
// GENERIC: "builtin.module"() <{sym_name = "outer", sym_visibility = "private"}> ({
module @outer <{sym_visibility = "private"}> attributes {t.note = "n"} {
  // CHECK-NEXT: module @inner <sym_visibility = "nested"> {
  module @inner
      <sym_visibility = "nested"> {
    "t.op"() : () -> ()
  }
  // CHECK: module @plain {
  module @plain <> {
  }
  // CHECK: module <sym_visibility = "public"> {
  module <sym_visibility = "public"> {
  }
}
