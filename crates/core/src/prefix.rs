//! Reading the first bytes of a file, for sniffing its format by magic bytes.

use std::io::Read;

/// Fills `buf` from `reader` as far as the reader goes (a short read is not the end: `read`
/// may return fewer bytes than asked); answers how many bytes were read.
pub fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
