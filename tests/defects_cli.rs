//! Defects a Docker user hits on day one, cli side: each test is the command as typed.

mod harness;
