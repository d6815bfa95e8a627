//! API tests of the lift domain.
