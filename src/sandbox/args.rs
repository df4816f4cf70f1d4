//! The `smartsweep sandbox` command-line flags, mapped onto [`SandboxConfig`].

use std::path::PathBuf;
use std::time::Duration;

use super::{DEFAULT_APP_ID, SandboxConfig};
use crate::secret::Secret;

/// The environment variable holding the sandbox's consumer secret.
pub const CONSUMER_SECRET_ENV: &str = "SMARTSWEEP_CONSUMER_SECRET";
/// The demo secret used when the environment variable is not set.
pub const DEFAULT_CONSUMER_SECRET: &str = "smartapp-secret";

/// Run an embedded SMART Classic container with a synthetic population.
///
/// It serves the cursor and every data resource of SMART Classic
/// (medications, fulfillments, problems, allergies, lab_results,
/// vital_sign_sets, immunizations, procedures, demographics), each record
/// one synthetic person. The consumer secret comes from the environment
/// variable `SMARTSWEEP_CONSUMER_SECRET` (default `smartapp-secret`, with a
/// warning).
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Number of synthetic records.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub records: u64,
    /// N more synthetic records whose ids interleave with the others (with `--drop-ids`: a population that changed since the last run).
    #[arg(
        long,
        default_value_t = 0,
        value_name = "N",
        conflicts_with = "from_dir"
    )]
    pub extra_records: u64,
    /// A file of record ids (one per line, `#` comments) that are absent: the cursor skips them, `next` after one is a 500 and data calls 403, as for any unknown id.
    #[arg(long, value_name = "FILE")]
    pub drop_ids: Option<PathBuf>,
    /// Seed of the population and of every injected fault.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Serve files instead of synthetic records: `DIR/<resource>/<record_id>.rdf` for any resource and `DIR/<record_id>.rdf` as medications, verbatim; filters and paging are ignored; the records are every file stem found, and a record without a file for a resource answers the empty graph.
    #[arg(long, value_name = "DIR", conflicts_with = "records")]
    pub from_dir: Option<PathBuf>,
    /// Latency added to every request but the manifest, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Latency added to cursor requests, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub cursor_latency_ms: u64,
    /// Latency added to data requests (every resource), in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub data_latency_ms: u64,
    /// Share of requests answered 500, 502 or 503 (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub fail_rate: f64,
    /// Share of requests answered 429 with `Retry-After` (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub throttle_rate: f64,
    /// The `Retry-After` of throttled answers, in seconds.
    #[arg(long, default_value_t = 1, value_name = "SECONDS")]
    pub retry_after_s: u64,
    /// Share of requests whose connection is dropped without an answer (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub reset_rate: f64,
    /// Share of requests whose body is cut short (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub truncate_rate: f64,
    /// Share of records whose data answers are invalid RDF/XML, always the same records for a seed (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub malformed_rate: f64,
    /// The background app's id.
    #[arg(long, default_value = DEFAULT_APP_ID, value_name = "ID")]
    pub app_id: String,
    /// The OAuth consumer key [default: the app id].
    #[arg(long, value_name = "KEY")]
    pub consumer_key: Option<String>,
    /// Seconds to shift the sandbox's clock by (negative: behind), for its OAuth timestamp window and the `Date` header it sends.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub clock_offset_s: i64,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7000", value_name = "ADDR")]
    pub listen: String,
}

impl SandboxArgs {
    /// The configuration these flags describe, validated. The consumer
    /// secret is read from `SMARTSWEEP_CONSUMER_SECRET`.
    pub fn into_config(self) -> Result<SandboxConfig, String> {
        let consumer_secret = match std::env::var(CONSUMER_SECRET_ENV) {
            Ok(s) if !s.is_empty() => Secret::new(s),
            _ => {
                tracing::warn!(
                    "sandbox: {CONSUMER_SECRET_ENV} is not set; using the demo consumer secret `{DEFAULT_CONSUMER_SECRET}`"
                );
                Secret::new(DEFAULT_CONSUMER_SECRET)
            }
        };
        let config = SandboxConfig {
            records: self.records,
            extra_records: self.extra_records,
            drop_ids: self.drop_ids,
            seed: self.seed,
            from_dir: self.from_dir,
            latency: Duration::from_millis(self.latency_ms),
            cursor_latency: Duration::from_millis(self.cursor_latency_ms),
            data_latency: Duration::from_millis(self.data_latency_ms),
            fail_rate: self.fail_rate,
            throttle_rate: self.throttle_rate,
            retry_after_s: self.retry_after_s,
            reset_rate: self.reset_rate,
            truncate_rate: self.truncate_rate,
            malformed_rate: self.malformed_rate,
            consumer_key: self.consumer_key.unwrap_or_else(|| self.app_id.clone()),
            app_id: self.app_id,
            consumer_secret,
            clock_offset_s: self.clock_offset_s,
        };
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SandboxArgs,
    }

    #[test]
    fn defaults_and_flags() {
        let cli = Cli::try_parse_from(["x"]).map_err(|e| e.to_string());
        let Ok(cli) = cli else {
            panic!("{cli:?}", cli = cli.err())
        };
        assert_eq!(cli.args.records, 1000);
        assert_eq!(cli.args.listen, "127.0.0.1:7000");
        let config = cli.args.into_config();
        let Ok(config) = config else {
            panic!("{:?}", config.err())
        };
        assert_eq!(config.consumer_key, DEFAULT_APP_ID);

        let cli = Cli::try_parse_from([
            "x",
            "--records",
            "5",
            "--seed",
            "9",
            "--fail-rate",
            "0.1",
            "--throttle-rate",
            "0.1",
            "--retry-after-s",
            "3",
            "--reset-rate",
            "0.1",
            "--truncate-rate",
            "0.1",
            "--malformed-rate",
            "0.2",
            "--latency-ms",
            "1",
            "--cursor-latency-ms",
            "2",
            "--data-latency-ms",
            "3",
            "--app-id",
            "a@b",
            "--consumer-key",
            "k",
            "--listen",
            "127.0.0.1:0",
            "--extra-records",
            "7",
            "--drop-ids",
            "/tmp/ids.txt",
            "--clock-offset-s",
            "-900",
        ]);
        let Ok(cli) = cli else { panic!("parse failed") };
        let config = cli.args.into_config();
        let Ok(config) = config else {
            panic!("{:?}", config.err())
        };
        assert_eq!(
            (config.records, config.seed, config.retry_after_s),
            (5, 9, 3)
        );
        assert_eq!(config.cursor_latency, Duration::from_millis(2));
        assert_eq!((config.extra_records, config.clock_offset_s), (7, -900));
        assert_eq!(
            config.drop_ids.as_deref(),
            Some(std::path::Path::new("/tmp/ids.txt"))
        );
        assert_eq!(
            (config.app_id.as_str(), config.consumer_key.as_str()),
            ("a@b", "k")
        );
    }

    #[test]
    fn bad_rates_are_refused() {
        let Ok(cli) = Cli::try_parse_from(["x", "--fail-rate", "1.5"]) else {
            panic!("parse")
        };
        assert!(
            cli.args
                .into_config()
                .is_err_and(|e| e.contains("--fail-rate"))
        );
        let Ok(cli) = Cli::try_parse_from(["x", "--fail-rate", "0.6", "--reset-rate", "0.6"])
        else {
            panic!("parse")
        };
        assert!(cli.args.into_config().is_err());
        assert!(Cli::try_parse_from(["x", "--records", "3", "--from-dir", "/tmp"]).is_err());
        assert!(Cli::try_parse_from(["x", "--extra-records", "3", "--from-dir", "/tmp"]).is_err());
    }
}
