module {
  func.func @f(%arg0: i32 loc("model.py":10:4), %arg1: tensor<2xf32> {test.arg} loc("arg1")) -> i32 {
    %0 = arith.addi %arg0, %arg0 : i32 loc("layer1.0.conv1"("model.py":12:8))
    %1 = "test.op"(%arg1) ({
    ^bb0(%arg2: f32 loc(unknown), %arg3: f32 loc("block.py":1:1)):
      "test.yield"() : () -> () loc(callsite("inner" at "outer.py":3:3))
    }) : (tensor<2xf32>) -> i32 loc(fused["a.py":1:1, "b.py":2:2])
    "test.meta"() : () -> () loc(fused<"fusion">["a.py":1:1, "name"])
    "test.meta"() : () -> () loc(fused<{pass = "cse"}>[unknown])
    "test.nested"() : () -> () loc(callsite(callsite("f" at "g") at fused["x":1:2, "y"("z":3:4)]))
    "test.empty_fused"() : () -> () loc(fused[])
    "test.escaped"() : () -> () loc("dir with space/\22quoted\22.py":0:0)
    "test.range"() : () -> () loc("model.py":14:4 to 16:20)
    "test.range"() : () -> () loc(callsite("model.py":17:4 to :30 at "caller.py":2:1))
    return %0 : i32 loc(unknown)
  } loc("model.py":9:0)
} loc(unknown)
