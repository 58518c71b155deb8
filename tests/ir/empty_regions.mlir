// Empty regions written on one line: `{}` is a region here, not a dictionary.
module {}
"test.two_regions"() ({}, {
  "test.op"() : () -> ()
}) : () -> ()
func.func @with_arg_attrs(%a: i32 {test.flag}, %b: i32 {}) {
  return
}
