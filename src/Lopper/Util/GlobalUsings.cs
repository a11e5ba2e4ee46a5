// System.Numerics.Tensors also defines a Tensor type; only its primitives are wanted here.
global using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
