//! API load benchmark (being written).
fn main() {}
