module {
  func.func private @external(tensor<4xf32>, i32 {test.flag}) -> (tensor<4xf32>, i32)
  func.func private @no_args() -> i64 attributes {test.note = "declaration"}
  func.func @multiple_results(%arg0: tensor<4xf32>, %arg1: i32 {test.arg = 1 : i32}) -> (tensor<4xf32> {test.res}, i32) {
    %0:2 = call @external(%arg0, %arg1) : (tensor<4xf32>, i32) -> (tensor<4xf32>, i32)
    %1 = arith.addf %0#0, %arg0 : tensor<4xf32>
    %2 = arith.addi %0#1, %arg1 : i32
    return %1, %2 : tensor<4xf32>, i32
  }
  func.func @named_values(%input: i32) -> i32 {
    %c42_i32 = arith.constant 42 : i32
    %sum = arith.addi %input, %c42_i32 : i32
    %0 = "test.call"(%sum) {callee = @nested::@inner} : (i32) -> i32
    return %0 : i32
  }
  func.func nested @no_results() {
    %cst = arith.constant dense<1.5> : tensor<2x2xf32>
    %0 = arith.mulf %cst, %cst : tensor<2x2xf32>
    return
  }
  module @nested {
    func.func @inner(%arg0: i32) -> i32 {
      return %arg0 : i32
    }
  }
}
