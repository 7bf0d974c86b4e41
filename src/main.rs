//! The `griddispatch` binary; everything lives in the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = griddispatch::cli::Cli::parse();
    let logs = griddispatch::telemetry::Logs::init();
    match griddispatch::cli::run(cli, &logs).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
