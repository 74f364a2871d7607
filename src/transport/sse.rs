//! (stub)
/// stub
pub struct SseStream {
    /// stub
    pub retry_ms: u64,
}
impl crate::transport::StreamFormat for SseStream {
    fn content_type(&self) -> &'static str {
        todo!()
    }
    fn headers(&self) -> Vec<(&'static str, String)> {
        todo!()
    }
    fn prelude(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!()
    }
    fn message(&self, message: &crate::hub::Message, out: &mut Vec<u8>) {
        let _ = (message, out);
        todo!()
    }
    fn reset(&self, last: u64, out: &mut Vec<u8>) {
        let _ = (last, out);
        todo!()
    }
    fn heartbeat(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!()
    }
}
/// stub
pub fn resume_point(last_event_id: Option<&str>, after: Option<u64>) -> Option<u64> {
    let _ = (last_event_id, after);
    todo!()
}
