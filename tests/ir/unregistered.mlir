module {
  %0 = "mydialect.producer"() <{kind = "weights", shape = array<i64: 4, 4>}> : () -> tensor<4x4xf32>
  %1:2 = "mydialect.loop"(%0) ({
  ^bb0(%arg0: tensor<4x4xf32>, %arg1: index):
    %2 = "mydialect.step"(%arg0, %arg1) : (tensor<4x4xf32>, index) -> tensor<4x4xf32>
    "mydialect.branch"(%2)[^bb1, ^bb2] : (tensor<4x4xf32>) -> ()
  ^bb1:
    "mydialect.continue"(%2) : (tensor<4x4xf32>) -> ()
  ^bb2:
    "mydialect.exit"(%2, %arg1) : (tensor<4x4xf32>, index) -> ()
  }, {
    "mydialect.cleanup"() : () -> ()
  }) {mydialect.note = "kept verbatim"} : (tensor<4x4xf32>) -> (tensor<4x4xf32>, index)
  func.func @uses_unregistered(%arg0: tensor<4x4xf32>) -> tensor<4x4xf32> {
    %2 = "mydialect.transform"(%arg0) {level = 3 : i64} : (tensor<4x4xf32>) -> tensor<4x4xf32>
    %3 = arith.addf %2, %arg0 : tensor<4x4xf32>
    return %3 : tensor<4x4xf32>
  }
}
