//! Context-aware emotion recognition.
