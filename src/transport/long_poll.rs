//! (stub)
use crate::http::Response;
use crate::hub::Replay;
/// stub
pub fn response(replay: &Replay) -> Response {
    let _ = replay;
    todo!()
}
