//! Inputs and outputs around the emotic library.
