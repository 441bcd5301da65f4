//! Defects a Docker user hits on day one, runtime side: each test is the command as typed.

mod harness;
