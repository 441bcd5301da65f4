//! Attacks from the security review (issue: an image must never reach the host), image side:
//! each test performs one attack end to end with the real binary and asserts it fails.

mod harness;
