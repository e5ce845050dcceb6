//! Writing ONNX models from Rust.
