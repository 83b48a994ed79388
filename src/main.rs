//! The `leakhound` binary: everything lives in the library; see `cli`.

fn main() -> std::process::ExitCode {
    leakhound::cli::main()
}
