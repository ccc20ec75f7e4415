//! Image preflight: format by magic bytes, size and pixel limits from the capability table.

use crate::common;

use common::png;
use pixfuse_core::CAPABILITIES;
use pixfuse_transport::{ImageFormat, TransportError, preflight_image};

fn write(name: &str, bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    (dir, p)
}

fn jpeg(w: u16, h: u16) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
    v.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    v.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xD9]);
    v
}

fn webp(w: u32, h: u32) -> Vec<u8> {
    // VP8X header: canvas width-1 and height-1 as 24-bit little endian.
    let mut chunk = vec![0u8; 10];
    chunk[4..7].copy_from_slice(&(w - 1).to_le_bytes()[..3]);
    chunk[7..10].copy_from_slice(&(h - 1).to_le_bytes()[..3]);
    let mut v = b"RIFF".to_vec();
    v.extend_from_slice(&(4 + 8 + chunk.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WEBPVP8X");
    v.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
    v.extend_from_slice(&chunk);
    v
}

#[test]
fn formats_by_magic_bytes() {
    let (_d, p) = write("a.png", &png(800, 600));
    let info = preflight_image(&p).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Png, 800, 600)
    );
    assert!(info.warnings.is_empty());
    let (_d, p) = write("b.jpeg", &jpeg(320, 200));
    let info = preflight_image(&p).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Jpeg, 320, 200)
    );
    let (_d, p) = write("c.webp", &webp(1000, 2000));
    let info = preflight_image(&p).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Webp, 1000, 2000)
    );
}

#[test]
fn content_decides_not_the_extension() {
    let (_d, p) = write("really-a-png.jpg", &png(10, 10));
    let info = preflight_image(&p).unwrap();
    assert_eq!(info.format, ImageFormat::Png);
    assert!(
        info.warnings[0].contains("does not match"),
        "{:?}",
        info.warnings
    );
    let (_d, p) = write("x.png", b"GIF89a......");
    let e = preflight_image(&p).unwrap_err();
    assert!(matches!(e, TransportError::Image { .. }));
    assert!(e.to_string().contains("not a png, jpeg or webp"), "{e}");
}

#[test]
fn pixel_limits_come_from_the_table() {
    let limits = &CAPABILITIES.upload.max_side_px;
    let warn = limits.iter().map(|l| l.value).min().unwrap() as u32;
    let error = limits.iter().map(|l| l.value).max().unwrap() as u32;
    let (_d, p) = write("w.png", &png(warn + 1, 10));
    let info = preflight_image(&p).unwrap();
    assert_eq!(info.warnings.len(), 1, "{:?}", info.warnings);
    let (_d, p) = write("e.png", &png(10, error + 1));
    let e = preflight_image(&p).unwrap_err();
    assert!(
        e.to_string().contains(&format!("exceeds {error} px")),
        "{e}"
    );
    let (_d, p) = write("ok.png", &png(warn, warn));
    assert!(preflight_image(&p).unwrap().warnings.is_empty());
}

#[test]
fn size_limit_comes_from_the_table() {
    let max = CAPABILITIES.upload.max_bytes.value;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.png");
    let f = std::fs::File::create(&p).unwrap();
    std::io::Write::write_all(&mut &f, &png(10, 10)).unwrap();
    f.set_len(max + 1).unwrap(); // sparse: no 20 MB written
    let e = preflight_image(&p).unwrap_err();
    assert!(e.to_string().contains("over the upload limit"), "{e}");
    f.set_len(max).unwrap();
    assert!(preflight_image(&p).is_ok());
}

#[test]
fn missing_file_says_so() {
    let e = preflight_image(std::path::Path::new("/nonexistent/dog.png")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot open /nonexistent/dog.png"),
        "{e}"
    );
}
