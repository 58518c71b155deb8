"test.const"() {value = dense_resource<used> : tensor<2xi16>} : () -> ()

{-#
  dialect_resources: {
    builtin: {
      unused: "0x0400000001000000",
      used: "0x0200000001000200"
    }
  },
  external_resources: {
    mlir_reproducer: {
      pipeline: "builtin.module(canonicalize)",
      disable_threading: true
    }
  }
#-}
