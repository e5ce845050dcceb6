"""Writes crates/emotic/tests/data/engine_affine.onnx: y = x * 2 + b with a dynamic batch,
used by the engine tests (made with the `onnx` package, independently of our own writer)."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "crates", "emotic", "tests", "data", "engine_affine.onnx")

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
two = numpy_helper.from_array(np.array([2.0], dtype=np.float32), "two")
b = numpy_helper.from_array(np.array([0.5, -1.0, 3.0], dtype=np.float32), "b")
graph = helper.make_graph(
    [helper.make_node("Mul", ["x", "two"], ["t"]), helper.make_node("Add", ["t", "b"], ["y"])],
    "affine", [x], [y], [two, b])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.helper.set_model_props(model, {"names": "{0: 'person', 1: 'bicycle'}", "stride": "32"})
onnx.checker.check_model(model)
onnx.save(model, out)
print("wrote", out)
