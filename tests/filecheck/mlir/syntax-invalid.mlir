// RUN: irq-opt %s --split-input-file --verify-diagnostics --allow-unregistered-dialect
//
// Syntax MLIR rejects, next to the forms it accepts in module-properties.mlir and hex-literals.mlir:
// module properties with an unknown key, `sym_name` (the `@name` is the symbol), a visibility that
// is not a string, a key given twice; a negative hex float. Messages after MLIR's (llvm-project
// mlir/lib/AsmParser/AttributeParser.cpp for the hex float).

// expected-error@+1 {{unknown key 'foo' in the properties of 'builtin.module'}}
module @m <{foo = "a"}> {
}

// -----

// expected-error@+1 {{unknown key 'sym_name' in the properties of 'builtin.module'}}
module <sym_name = "m"> {
}

// -----

// expected-error@+1 {{property 'sym_visibility' must be a string}}
module @m <sym_visibility = 1> {
}

// -----

// expected-error@+1 {{duplicate or unknown property in properties dictionary: sym_visibility}}
module @m <sym_visibility = "a", sym_visibility = "b"> {
}

// -----

// expected-error@+1 {{hexadecimal float literal should not have a leading minus}}
"t.c"() {a = -0x7FC00000 : f32} : () -> ()

// -----

// expected-error@+1 {{integer constant -129 out of range for i8}}
"t.c"() {a = -0x81 : i8} : () -> ()
