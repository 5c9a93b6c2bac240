//! Decoding any provider's payload from its instrumentation manifest (being written).
