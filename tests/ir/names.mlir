func.func @first(%0: i32, %1: i32) -> i32 {
  %2 = arith.constant 0 : index
  %3 = arith.constant 0 : index
  %4 = arith.constant 1.5 : f32
  %5 = arith.constant 2.5 : f32
  %6 = arith.constant 7 : i32
  %7 = arith.constant true
  %8 = "test.region"() ({
    %9 = arith.constant 0 : index
    %10 = arith.constant 3.5 : f32
    "test.yield"(%9) : (index) -> ()
  }) : () -> i32
  %11 = arith.addi %0, %6 : i32
  return %11 : i32
}
func.func @second(%0: i32) -> i32 {
  %1 = arith.constant 0 : index
  %2 = arith.constant -1 : i8
  return %0 : i32
}
