//! API tests of the builder domain.
