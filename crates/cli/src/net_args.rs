//! Global options of the commands that talk to the API. Flattened into `GlobalArgs`, so they are
//! accepted before or after the subcommand.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Where to connect, how patient to be, where state lives.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct NetArgs {
    /// Who serves the API.
    #[arg(long, global = true, env = pixfuse::PROVIDER_ENV, value_parser = provider_names())]
    pub provider: Option<String>,
    /// Another base URL (a relay, a local emulator). Plain http only for localhost.
    #[arg(long, global = true, env = pixfuse::BASE_URL_ENV, value_name = "URL")]
    pub base_url: Option<String>,
    /// Poll the status at this fixed interval (e.g. `100ms`, `5s`) instead of the adaptive
    /// schedule.
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub poll_interval: Option<Duration>,
    /// First retry delay; later retries back off exponentially from it.
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub retry_base_delay: Option<Duration>,
    /// Bound the whole command: uploads, the submit (waits for a free slot included), status
    /// polls and the download all stop in time. A journaled job cut short exits 8 and names
    /// the command that resumes it (it keeps running on the server; a partial download is
    /// continued); one cut short before it was journaled exits 10. Without it, every request
    /// still gives up on its own limits (10 s to connect, 30 s of silence, 60 s per request).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Where the job journal lives [default: the platform's data directory for pixfuse].
    #[arg(long, global = true, env = pixfuse::state::STATE_DIR_ENV, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep the journal in a shared PostgreSQL database (`postgres://user@host/db`) instead of
    /// SQLite in the state directory; env PIXFUSE_JOURNAL_URL or `journal_url` in the config
    /// file. A password is refused here (argv is visible to every user): put the URL with its
    /// password in PIXFUSE_JOURNAL_URL or the config file.
    #[arg(long, global = true, value_name = "URL")]
    pub journal: Option<String>,
    /// The account's concurrency limit, shared by every pixfuse process on the journal: a
    /// `run`, `submit`, `resume` or `wait` first takes one of N slots in the journal and waits
    /// (saying so, within --timeout) while all are held, so they never together send more than
    /// N generating jobs (no 500044). A `submit` that returns keeps its slot until a later
    /// `wait` sees the end, or 30 s (the lease) at most. `batch` uses --concurrency instead.
    #[arg(long, global = true, env = "PIXFUSE_ACCOUNT_SLOTS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub account_slots: Option<u32>,
    /// Config file [default: pixfuse/config.toml in the platform's config directory].
    #[arg(long, global = true, env = "PIXFUSE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Profile of the config file to use.
    #[arg(long, global = true, env = "PIXFUSE_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// Read the API key from standard input (keys never go on the command line).
    #[arg(long, global = true)]
    pub api_key_stdin: bool,
    /// Talk to a local emulator of the API served by this command: no key, no credits, nothing
    /// leaves the machine. Its state and journal live in `<state dir>/sandbox`, so its jobs
    /// outlive the command: `submit --sandbox`, then `wait`, `resume` or `batch --sandbox` later.
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// With --sandbox: run the emulator's clock this much faster or slower (0.1: a 3 s job
    /// takes 0.3 s).
    #[arg(
        long,
        global = true,
        env = "PIXFUSE_SANDBOX_TIME_SCALE",
        value_name = "F",
        value_parser = parse_time_scale
    )]
    pub sandbox_time_scale: Option<f64>,
    /// Where each option given was set (filled from clap's matches after parsing).
    #[arg(skip)]
    pub sources: Sources,
}

/// Where each option on the command line came from, as clap saw it (`config show` names it).
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// An option's id, and how to name where it was set: `--base-url` or `$PIXFUSE_BASE_URL`.
    given: Vec<(String, String)>,
}

impl Sources {
    /// Reads the sources of the options `command` defines from its `matches` (before the
    /// options are taken out of them).
    pub fn from_matches(command: &clap::Command, matches: &clap::ArgMatches) -> Sources {
        use clap::parser::ValueSource;
        let given = command
            .get_arguments()
            .filter_map(|arg| {
                let id = arg.get_id().as_str();
                if !matches.try_contains_id(id).unwrap_or(false) {
                    return None;
                }
                let named = match matches.value_source(id)? {
                    ValueSource::CommandLine => format!("--{}", arg.get_long()?),
                    ValueSource::EnvVariable => {
                        format!("${}", arg.get_env()?.to_string_lossy())
                    }
                    _ => return None,
                };
                Some((id.to_owned(), named))
            })
            .collect();
        Sources { given }
    }

    /// Where option `id` was set: `--base-url`, `$PIXFUSE_BASE_URL`, or `None` (neither).
    pub fn of(&self, id: &str) -> Option<&str> {
        self.given
            .iter()
            .find(|(given, _)| given == id)
            .map(|(_, named)| named.as_str())
    }
}

/// The names `--provider` accepts: the providers pixfuse knows, as they spell themselves.
fn provider_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(pixfuse::Provider::ALL.map(|p| p.as_str()))
}

/// A time factor above 0, at most 1000.
pub fn parse_time_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1000.0 => Ok(f),
        _ => Err(format!(
            "{text:?} is not a time factor: use a number above 0 and at most 1000 (1 = real time, \
             0.1 = ten times faster)"
        )),
    }
}

/// `100ms`, `5s`, `2m`, `1h 30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}; write a duration such as 100ms, 5s or 10m"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use pixfuse::transport::{
        DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, DEFAULT_REQUEST_TIMEOUT,
    };

    #[test]
    fn the_timeout_help_states_the_transport_s_defaults() {
        let cli = crate::cli::Cli::command();
        let arg = cli
            .get_arguments()
            .find(|a| a.get_id() == "timeout")
            .expect("--timeout");
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let secs = |d: std::time::Duration| d.as_secs();
        let said = format!(
            "{} s to connect, {} s of silence, {} s per request",
            secs(DEFAULT_CONNECT_TIMEOUT),
            secs(DEFAULT_READ_TIMEOUT),
            secs(DEFAULT_REQUEST_TIMEOUT)
        );
        assert!(help.contains(&said), "{help}");
    }
}
