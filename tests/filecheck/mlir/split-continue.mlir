// RUN: not irq-opt %s --split-input-file 2>%t.err | filecheck %s
// RUN: filecheck %s --check-prefix=ERR < %t.err
//
// As mlir-opt: a failing chunk does not stop the others; the outputs of the chunks that
// passed are separated by '// -----', the errors go to stderr, the status is non-zero.

// CHECK: func.func @first
// CHECK-NEXT: return
func.func @first() {
  return
}

// -----

// ERR: split-continue.mlir:[[# @LINE + 1]]:1: error: custom op 'bogus.op' is unknown
bogus.op

// -----

// CHECK: // -----
// CHECK: func.func @third
func.func @third() {
  return
}
