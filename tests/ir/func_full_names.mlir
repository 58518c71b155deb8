func.func @f(%a: i32, %b: i32) -> i32 {
  %0 = "arith.addi"(%a, %b) : (i32, i32) -> i32
  %1 = func.call @f(%0, %b) : (i32, i32) -> i32
  "func.return"(%1) : (i32) -> ()
}
