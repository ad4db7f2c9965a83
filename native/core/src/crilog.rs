//! The CRI container log format the kubelet and crictl read:
//! `<RFC3339Nano timestamp> <stdout|stderr> <F|P> <text>\n`. A chunk of output that ends
//! without a newline is written as a partial (`P`) line, so logs never wait for a newline
//! and the reader can reassemble long lines.
use chrono::{DateTime, SecondsFormat, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(&self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Longest text per log line; longer lines are split into P records (as conmon does).
pub const MAX_LINE: usize = 16 * 1024;

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Formats one chunk of a stream's output into CRI log records.
pub fn format_chunk(out: &mut Vec<u8>, ts: &str, stream: Stream, chunk: &[u8]) {
    let mut rest = chunk;
    while !rest.is_empty() {
        let (line, tag, advance) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) if i <= MAX_LINE => (&rest[..i], "F", i + 1),
            _ if rest.len() > MAX_LINE => (&rest[..MAX_LINE], "P", MAX_LINE),
            Some(i) => (&rest[..i], "F", i + 1),
            None => (rest, "P", rest.len()),
        };
        out.extend_from_slice(ts.as_bytes());
        out.push(b' ');
        out.extend_from_slice(stream.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(tag.as_bytes());
        out.push(b' ');
        out.extend_from_slice(line);
        out.push(b'\n');
        rest = &rest[advance..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_rfc3339_nano_utc() {
        let t = DateTime::parse_from_rfc3339("2026-12-02T05:46:00.000000123Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp(t), "2026-12-02T05:46:00.000000123Z");
    }

    #[test]
    fn full_partial_and_long_lines() {
        let mut out = Vec::new();
        format_chunk(&mut out, "T", Stream::Stdout, b"one\ntwo\nthr");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "T stdout F one\nT stdout F two\nT stdout P thr\n"
        );
        let mut out = Vec::new();
        format_chunk(&mut out, "T", Stream::Stderr, b"\n");
        assert_eq!(out, b"T stderr F \n");
        let long = vec![b'x'; MAX_LINE + 3];
        let mut chunk = long.clone();
        chunk.push(b'\n');
        let mut out = Vec::new();
        format_chunk(&mut out, "T", Stream::Stdout, &chunk);
        let s = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("T stdout P xxx"));
        assert_eq!(lines[1], "T stdout F xxx");
    }
}
