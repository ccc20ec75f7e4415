//! Generated documentation: `pixfuse completions SHELL` and the man pages `cargo xtask man` has
//! the hidden `pixfuse man --out-dir DIR` write.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::cmd::Failure;
use crate::exit::Exit;

/// Print a shell completion script on stdout.
#[derive(Debug, Args)]
#[command(after_help = "Where to put it (then start a new shell):
  bash        pixfuse completions bash > ~/.local/share/bash-completion/completions/pixfuse
  zsh         pixfuse completions zsh > ~/.zfunc/_pixfuse   (with fpath+=~/.zfunc before compinit)
  fish        pixfuse completions fish > ~/.config/fish/completions/pixfuse.fish
  powershell  pixfuse completions powershell >> $PROFILE")]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Write the man pages (pixfuse.1 and one per command) into a directory.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Where the pages go (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

pub fn completions(args: &CompletionsArgs) -> Result<Exit, Failure> {
    let mut cmd = crate::cli::command();
    // clap_complete panics on a failed write: it writes into memory, and a closed pipe
    // (`pixfuse completions bash | head`) is handled here like everywhere else.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "pixfuse", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(Exit::Success)
}

pub fn man(args: &ManArgs) -> Result<Exit, Failure> {
    let cannot = |e: std::io::Error| {
        Failure::usage(format!(
            "cannot write the man pages to {}: {e}",
            args.out_dir.display()
        ))
    };
    std::fs::create_dir_all(&args.out_dir).map_err(cannot)?;
    clap_mangen::generate_to(super::help::command(), &args.out_dir).map_err(cannot)?;
    // The top page also gets the exit codes, as `pixfuse help exit-codes` tells them.
    let top = args.out_dir.join("pixfuse.1");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&top)
        .and_then(|mut page| page.write_all(crate::exit::roff().as_bytes()))
        .map_err(cannot)?;
    eprintln!("pixfuse: man pages written to {}", args.out_dir.display());
    Ok(Exit::Success)
}
