// RUN: irq-opt %s --split-input-file --verify-diagnostics --allow-unregistered-dialect
//
// Input MLIR rejects, each at the line MLIR's own annotation names. Written for irq after
// reading llvm-project mlir/test/IR/invalid.mlir, invalid-builtin-attributes.mlir,
// invalid-builtin-types.mlir, invalid-func-op.mlir, mlir/test/Dialect/Func/invalid.mlir,
// mlir/test/Dialect/Arith/invalid.mlir and mlir/test/IR/test-symbol-table (redefinition).

func.func @f() {
  return
}
// expected-note@-3 {{see existing symbol definition here}}
// expected-error@+1 {{redefinition of symbol named 'f'}}
func.func @f() {
  return
}

// -----

// expected-error@+1 {{empty operation name is invalid}}
""() : () -> ()

// -----

// expected-error@+1 {{integer return type must be signless}}
%0 = arith.constant 0 : ui32

// -----

// expected-error@+1 {{unexpected decimal integer literal for a floating point value}}
"t.a"() {x = 42 : f32} : () -> ()

// -----

// expected-error@+1 {{expected floating-point elements, but parsed integer}}
"t.a"() {x = dense<[4]> : tensor<1xf32>} : () -> ()

// -----

// expected-error@+1 {{dense array element type must be i1 or a multiple of 8 bits wide}}
"t.a"() {x = array<i7>} : () -> ()

// -----

// expected-error@+1 {{does not fit in int64}}
"t.a"() : () -> tensor<9223372036854775808xf32>

// -----

// Unknown ops of a registered dialect are typos even with --allow-unregistered-dialect.
// expected-error@+1 {{operation 'arith.addx' is not registered in dialect 'arith'}}
"arith.addx"() : () -> ()

// -----

// expected-error@+1 {{'sym_name' is a reserved attribute of func.func}}
func.func @g() attributes {sym_name = "h"} {
  return
}

// -----

func.func @h(i32) {
// expected-error@-1 {{entry block arguments (i64) do not match the function type (i32) -> ()}}
^bb0(%a: i64):
  return
}

// -----

// A missing token is reported at the end of the statement's last token, not on the next line.
// expected-error@+1 {{unexpected end of statement}}
%1 = "t.b"()
"t.c"() : () -> ()

// -----

// Annotations stack: both lines below name the line after them (two ops share it), and a
// blank may precede '@'.
// expected-error @below {{'arith.constant' op integer return type must be signless, got ui32}}
// expected-error @below {{'arith.constant' op integer return type must be signless, got ui8}}
%2 = arith.constant 0 : ui32 %3 = arith.constant 1 : ui8

// -----

module @m {
  func.func @inner() {
    return
  }
}
func.func @outer() {
  // expected-error@+1 {{requires a flat symbol reference as callee}}
  func.call @m::@inner() : () -> ()
  return
}

// -----

func.func @ext_must_widen(%a: i32) {
  // expected-error@+1 {{result type i16 must be wider than operand type i32}}
  %0 = arith.extsi %a : i32 to i16
  return
}

// -----

func.func @select_types(%c: i1, %a: i32, %b: i64) {
  // expected-error@+1 {{true and false values and the result must have the same type}}
  %0 = "arith.select"(%c, %a, %b) : (i1, i32, i64) -> i32
  return
}

// -----

func.func @cmpi_predicate(%a: i32) {
  // expected-error@+1 {{predicate 12 is not one of 10 predicates}}
  %0 = "arith.cmpi"(%a, %a) <{predicate = 12 : i64}> : (i32, i32) -> i1
  return
}

// -----

// expected-error@+1 {{use of undeclared identifier 'd1'}}
"t.a"() {m = affine_map<(d0) -> (d1)>} : () -> ()

// -----

// expected-error@+1 {{non-affine expression: at least one of the multiply operands has to be a constant}}
"t.a"() {m = affine_map<(d0, d1) -> (d0 * d1)>} : () -> ()

// -----

// expected-error@+1 {{expected '== affine-expr' or '>= affine-expr' at end of affine constraint}}
"t.a"() {s = affine_set<(d0) : (d0)>} : () -> ()

// -----

func.func @g(%x: i32) -> i32 {
  return %x : i32
}
func.func @f() {
  // expected-error@+1 {{reference to function with mismatched type}}
  %0 = func.constant @g : (i64) -> i64
  return
}

// -----

// expected-error@+1 {{expected memory space to be last in memref type}}
"t.a"() : () -> memref<4xf32, 1, strided<[1]>>

// -----

// expected-error@+1 {{use of undeclared identifier 'd1'}}
"t.a"() : () -> memref<4xf32, affine_map<(d0) -> (d1)>>

// -----

"t.a"() : () -> ()
{-#
  // expected-error@+1 {{unknown key 'bogus' in file metadata dictionary}}
  bogus: { builtin: { k: "0x04000000" } }
#-}

// -----

"t.a"() : () -> ()
{-#
  dialect_resources: {
    // expected-error@+1 {{dialect 'foo' is unknown}}
    foo: { k: "0x04000000" }
  }
#-}

// -----

"t.a"() : () -> ()
{-#
  dialect_resources: {
    // expected-error@+1 {{unexpected 'resource' section for dialect 'arith'}}
    arith: { k: "0x04000000" }
  }
#-}

// -----

// expected-error@+1 {{value out of range for i3}}
"t.a"() {a = dense<[8]> : tensor<1xi3>} : () -> ()
