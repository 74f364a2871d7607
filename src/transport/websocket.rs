//! (stub)
/// stub
pub fn reset_text(last: u64) -> String {
    let _ = last;
    todo!()
}
