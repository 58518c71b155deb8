module {
  func.func @quantize(%arg0: tensor<1x3x32x32xf32>) -> tensor<1x3x32x32xf32> {
    %0 = quant.qcast %arg0 : tensor<1x3x32x32xf32> to tensor<1x3x32x32x!quant.uniform<i8:f32, 0.0235>>
    %1 = quant.dcast %0 : tensor<1x3x32x32x!quant.uniform<i8:f32, 0.0235>> to tensor<1x3x32x32xf32>
    return %1 : tensor<1x3x32x32xf32>
  }
  func.func @storage_and_zero_points(%arg0: tensor<4xf32>, %arg1: tensor<?xf16>) -> (tensor<4x!quant.uniform<u8:f32, 0.1:128>>, tensor<?x!quant.uniform<i8<-127:127>:f16, 0.5>>) {
    %0 = quant.qcast %arg0 : tensor<4xf32> to tensor<4x!quant.uniform<u8:f32, 0.1:128>>
    %1 = quant.qcast %arg1 : tensor<?xf16> to tensor<?x!quant.uniform<i8<-127:127>:f16, 0.5>>
    return %0, %1 : tensor<4x!quant.uniform<u8:f32, 0.1:128>>, tensor<?x!quant.uniform<i8<-127:127>:f16, 0.5>>
  }
  func.func @per_axis(%arg0: tensor<2x3xf32>) -> tensor<2x3x!quant.uniform<i8:f32:0, {0.1,0.2:1}>> {
    %0 = quant.qcast %arg0 : tensor<2x3xf32> to tensor<2x3x!quant.uniform<i8:f32:0, {0.1,0.2:1}>>
    return %0 : tensor<2x3x!quant.uniform<i8:f32:0, {0.1,0.2:1}>>
  }
  "test.types"() {exact_scale = !quant.uniform<i16:f32, 0.00784313725490196:-3>, narrow = !quant.uniform<u4<1:14>:bf16, 1.0e-05>, tiny = !quant.uniform<i32:f64:1, {5.0e-324,1.7976931348623157e+308,2.5:-7}>} : () -> ()
}
