//! Small blocking clients on `std::net` for every technique, used by tests, tutorials and the lab.
