//! What the `ws_echo` benchmark is made of: the servers it compares, the child processes they run in,
//! and the load generator that drives them all the same way.

pub mod child;
pub mod load;
pub mod servers;
