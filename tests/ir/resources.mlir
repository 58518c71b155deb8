module {
  %0 = "test.const"() <{value = dense_resource<conv1.weight> : tensor<2x2xf32>}> : () -> tensor<2x2xf32>
  %1 = "test.const"() <{value = dense_resource<"layer 1/bias"> : tensor<3xi64>}> : () -> tensor<3xi64>
  %2 = "test.const"() <{value = dense_resource<conv1.weight> : tensor<4xf32>}> : () -> tensor<4xf32>
  %3 = "test.const"() <{value = dense_resource<flags> : tensor<3xi1>}> : () -> tensor<3xi1>
  %4 = "test.const"() <{value = dense_resource<half> : tensor<2xbf16>}> : () -> tensor<2xbf16>
  %5 = "test.const"() <{value = dense_resource<"layer 1/bias"> : tensor<3xi64>}> : () -> tensor<3xi64>
}

{-#
  dialect_resources: {
    builtin: {
      conv1.weight: "0x040000000000803F00000040000040400000803F",
      "layer 1/bias": "0x08000000010000000000000002000000000000000300000000000000",
      flags: "0x01000000010001",
      half: "0x02000000803FC0BF"
    }
  }
#-}
