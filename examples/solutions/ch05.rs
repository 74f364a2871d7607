//! Chapter 5, JSONP: model answers.

/// Exercise 5.1: whether `callback` is a safe name to put in front of `(`: identifiers
/// `[A-Za-z_$][A-Za-z0-9_$]*` joined by single dots, 1 to 64 bytes in all. Anything else could run
/// code of the requester's choosing in the page's origin.
pub fn is_safe_callback(callback: &str) -> bool {
    let identifier = |segment: &str| {
        let mut bytes = segment.bytes();
        matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b'$')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
    };
    (1..=64).contains(&callback.len()) && callback.split('.').all(identifier)
}

/// Exercise 5.2: the JSONP body around a batch: `/**/F(batch);`. The leading comment means the body
/// never starts with bytes the requester chose (the Rosetta Flash attack, CVE-2014-4671).
pub fn jsonp_body(callback: &str, batch_json: &str) -> Option<String> {
    is_safe_callback(callback).then(|| format!("/**/{callback}({batch_json});"))
}
