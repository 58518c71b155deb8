#loc = loc("model.py":1:1)
module {
  func.func @f(%arg0: i32 loc(#loc1)) -> i32 {
    %0 = arith.addi %arg0, %arg0 : i32 loc(#loc2)
    return %0 : i32 loc(#loc)
  } loc(#loc3)
} loc(#loc)
#loc1 = loc("model.py":2:5)
#loc2 = loc("conv1"(#loc1))
#loc3 = loc(fused[#loc, #loc2])
