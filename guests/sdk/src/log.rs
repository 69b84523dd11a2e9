//! Formatted logging without an allocator.
//!
//! [`crate::log!`] formats into a [`LogBuf`] on the stack ([`LOG_BUF_LEN`]
//! bytes) and hands the result to the `log` host import in a single call.
//! Longer messages are cut (at a character boundary) and end in `...`.

use core::fmt;

/// Size of the stack buffer [`crate::log!`] formats into. Longer messages are
/// truncated.
pub const LOG_BUF_LEN: usize = 200;

/// Marker appended to a truncated message.
const ELLIPSIS: &[u8] = b"...";

/// A fixed-size text buffer implementing [`core::fmt::Write`]. Writes past the
/// end are dropped and the buffer remembers that it was truncated.
pub struct LogBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> LogBuf<N> {
    /// An empty buffer.
    #[inline]
    pub const fn new() -> Self {
        LogBuf {
            buf: [0; N],
            len: 0,
            truncated: false,
        }
    }

    /// Whether some output did not fit.
    #[inline]
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The text so far; when truncated, the last bytes are replaced by `...`
    /// (if `N` leaves room for it). Always valid UTF-8.
    pub fn as_bytes(&mut self) -> &[u8] {
        if self.truncated && N >= ELLIPSIS.len() {
            // Back up to a character boundary that leaves room for "...".
            let mut end = self.len.min(N - ELLIPSIS.len());
            while end > 0 && end < self.len && (self.buf[end] & 0xc0) == 0x80 {
                end -= 1;
            }
            self.buf[end..end + ELLIPSIS.len()].copy_from_slice(ELLIPSIS);
            self.len = end + ELLIPSIS.len();
            self.truncated = false; // marker applied once
        }
        &self.buf[..self.len]
    }

    /// Sends the text to the log (see [`crate::host::log`]) and empties the
    /// buffer.
    pub fn flush(&mut self) {
        crate::host::log(self.as_bytes());
        self.len = 0;
        self.truncated = false;
    }
}

impl<const N: usize> Default for LogBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for LogBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let mut n = s.len();
        if n > room {
            self.truncated = true;
            n = room;
            while !s.is_char_boundary(n) {
                n -= 1;
            }
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        // Keep formatting going on overflow: returning an error would make
        // `write!` report a formatting failure, and we ignore the rest anyway.
        Ok(())
    }
}

/// Formats `args` into a stack [`LogBuf`] and logs the result. This is what
/// [`crate::log!`] calls; it is one out-of-line function so that each call
/// site stays small.
#[inline(never)]
pub fn log_fmt(args: fmt::Arguments<'_>) {
    if let Some(s) = args.as_str() {
        crate::host::log_str(s);
        return;
    }
    let mut buf = LogBuf::<LOG_BUF_LEN>::new();
    let _ = fmt::write(&mut buf, args);
    buf.flush();
}

/// Logs a formatted message, like `println!` but through the `kwasm.log` host
/// import and a fixed stack buffer of [`LOG_BUF_LEN`] bytes (longer messages
/// are truncated and end in `...`).
///
/// ```ignore
/// kwasm_guest::log!("dropped udp to port {} ({} bytes)", port, len);
/// ```
///
/// Formatting links in part of `core::fmt` (a few KiB of wasm). Programs that
/// only log fixed strings can call [`crate::host::log_str`] instead.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::log_fmt(::core::format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn fits() {
        let mut b = LogBuf::<16>::new();
        write!(b, "x={} y={}", 1, -2).unwrap();
        assert_eq!(b.as_bytes(), b"x=1 y=-2");
        assert!(!b.is_truncated());
    }

    #[test]
    fn truncates_with_ellipsis() {
        let mut b = LogBuf::<8>::new();
        b.write_str("abcdefghijkl").unwrap();
        assert!(b.is_truncated());
        assert_eq!(b.as_bytes(), b"abcde...");
    }

    #[test]
    fn truncates_at_char_boundary() {
        let mut b = LogBuf::<8>::new();
        // 'é' is two bytes: "aaaaaé" is 7 bytes, "aaaaaéé" 9.
        write!(b, "aaaaaéé").unwrap();
        let out = b.as_bytes();
        assert!(core::str::from_utf8(out).is_ok(), "{out:?}");
        assert!(out.ends_with(b"..."));
        // The ellipsis itself must not split a character either.
        let mut b = LogBuf::<6>::new();
        write!(b, "aaéé").unwrap(); // 6 bytes, fits exactly
        assert_eq!(b.as_bytes(), "aaéé".as_bytes());
        write!(b, "z").unwrap();
        let out = b.as_bytes();
        assert_eq!(out, b"aa...");
    }

    #[test]
    fn macro_logs_through_host() {
        crate::sys::mock::reset(&[]);
        crate::log!("n={}", 42);
        crate::log!("plain");
        crate::sys::mock::with(|h| {
            assert_eq!(h.logs, vec![b"n=42".to_vec(), b"plain".to_vec()]);
        });
    }
}
