pub mod nginx;
pub mod peers;
