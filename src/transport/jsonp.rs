//! (stub)
use crate::http::{HttpError, Response};
use crate::hub::Replay;
/// stub
pub fn validate_callback(name: &str) -> Result<(), HttpError> {
    let _ = name;
    todo!()
}
/// stub
pub fn response(callback: &str, replay: &Replay) -> Response {
    let _ = (callback, replay);
    todo!()
}
