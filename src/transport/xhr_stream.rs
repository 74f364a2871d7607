//! (stub)
/// stub
pub struct XhrStream;
impl crate::transport::StreamFormat for XhrStream {
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
