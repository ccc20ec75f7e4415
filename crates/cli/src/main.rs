//! `pixfuse`: the command-line tool for PixVerse Fusion.

fn main() -> std::process::ExitCode {
    pixfuse_cli::run()
}
