//! What `pixfuse -V` (one line) and `pixfuse --version` say; `build.rs` gathers the facts.

/// `-V`: the version, the commit and the build date, on one line.
pub const SHORT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("PIXFUSE_COMMIT"),
    ", built ",
    env!("PIXFUSE_BUILD_DATE"),
    ")"
);

/// `--version`: the same, one fact a line, and the capability table's date — the table is what
/// goes stale as the vendor adds models and limits.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit:           ",
    env!("PIXFUSE_COMMIT"),
    "\nbuilt:            ",
    env!("PIXFUSE_BUILD_DATE"),
    "\ncapability table: ",
    env!("PIXFUSE_TABLE_DATE"),
    " (spec/capabilities.json: the models and limits `pixfuse models` lists)"
);
