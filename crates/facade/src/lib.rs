//! PixVerse Fusion SDK: validate, upload, submit, wait and download, with a crash-safe journal.

#![forbid(unsafe_code)]

pub mod journal;
