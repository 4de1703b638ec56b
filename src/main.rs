//! The `acp-bridge` binary: parse the command line and hand over to the
//! library. Nothing else lives here.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = acp_bridge::cli::Cli::parse();
    match acp_bridge::cli::run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
