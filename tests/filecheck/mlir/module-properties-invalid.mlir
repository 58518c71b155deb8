// RUN: irq-opt %s --split-input-file --verify-diagnostics --allow-unregistered-dialect
//
// Module properties MLIR rejects (see module-properties.mlir): an unknown key, `sym_name` (the
// `@name` is the symbol), a visibility that is not a string, a key given twice.

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
